import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export interface UserDirectoryProps {
  /** The roles: one Cognito group each, carried in tokens as `cognito:groups`. */
  readonly roles: readonly string[];
  /** Prefix of the stack outputs `<prefix>UserPoolId` and `<prefix>UserPoolClientId`. @default none */
  readonly outputPrefix?: string;
  /** @default RemovalPolicy.RETAIN: a user pool holds people's accounts */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Who the callers are: a Cognito user pool with one group per role, a public app client (no secret:
 * the apps that sign in are a browser page and command-line tools, which cannot keep one) and the JWT
 * authorizer that HTTP API routes use. Tokens are short-lived access tokens (1 hour), and the
 * authorizer accepts only tokens issued to this client (`client_id`).
 *
 * Users sign in with the user name and password flow (`USER_PASSWORD_AUTH`, over TLS) or SRP; there is
 * no self sign-up: an administrator creates users and puts them in groups (`AdminCreateUser`,
 * `AdminAddUserToGroup`), which the demo and the tests do for their actors.
 */
export class UserDirectory extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly client: cognito.UserPoolClient;
  /** For `ServiceHttpApi`'s non-public routes. */
  public readonly authorizer: HttpUserPoolAuthorizer;

  constructor(scope: Construct, id: string, props: UserDirectoryProps) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'Pool', {
      selfSignUpEnabled: false,
      signInCaseSensitive: false,
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(1) },
      accountRecovery: cognito.AccountRecovery.NONE,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const role of props.roles) {
      new cognito.CfnUserPoolGroup(this, `Role-${role}`, { userPoolId: this.userPool.userPoolId, groupName: role, description: `The ${role} role` });
    }
    this.client = this.userPool.addClient('Client', {
      generateSecret: false,
      authFlows: { userPassword: true, userSrp: true },
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(1),
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });
    this.authorizer = new HttpUserPoolAuthorizer('UserPoolAuthorizer', this.userPool, { userPoolClients: [this.client] });

    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason: 'The reference system’s actors (customers, staff) sign in from scripts with a password; a production pool for staff should set mfa: REQUIRED with TOTP.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason: 'The Plus feature plan (threat protection) is billed per active user; a reference deployment stays on Essentials. Production pools with public sign-in should move to Plus.',
      },
    );

    const prefix = props.outputPrefix ?? '';
    new CfnOutput(Stack.of(this), `${prefix}UserPoolId`, { value: this.userPool.userPoolId });
    new CfnOutput(Stack.of(this), `${prefix}UserPoolClientId`, { value: this.client.userPoolClientId });
  }
}
