import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { randomBytes } from 'node:crypto';
import * as z from 'zod';

/** Someone who calls an API: a user of a user pool, signed in as a real client signs in. */
export interface Identity {
  readonly username: string;
  /** A current access token (`Authorization: Bearer …`), signing in again shortly before it expires. */
  accessToken(): Promise<string>;
}

export interface UserDirectoryAddress {
  readonly userPoolId: string;
  readonly clientId: string;
}

/** The pool and client of a stack's `UserDirectory` from its outputs (`<prefix>UserPoolId`, `<prefix>UserPoolClientId`). */
export function userDirectoryOf(outputs: Readonly<Record<string, string | undefined>>, prefix = ''): UserDirectoryAddress {
  const userPoolId = outputs[`${prefix}UserPoolId`];
  const clientId = outputs[`${prefix}UserPoolClientId`];
  if (!userPoolId || !clientId) throw new Error(`the stack has no ${prefix}UserPoolId / ${prefix}UserPoolClientId outputs: is it deployed with its UserDirectory?`);
  return { userPoolId, clientId };
}

const TokenClaims = z.object({ exp: z.number().int() });
/** Sign in again this long before the token expires. */
const RENEW_BEFORE_MS = 5 * 60_000;

/** A password the pool's policy accepts (12+ characters, upper and lower case, digits, symbols), random every time. */
const newPassword = () => `Aa1!${randomBytes(18).toString('base64url')}`;

/**
 * The actors of the demo, the tests, the bench and the chaos suite, in a user pool. `user(name, roles)`
 * does what an administrator does for a new user (creates them with a password, puts them in their
 * groups: `AdminCreateUser`, `AdminSetUserPassword`, `AdminAddUserToGroup`), and the identity signs in
 * as a client app does (`InitiateAuth` with `USER_PASSWORD_AUTH`), for a real access token issued by
 * the pool and checked by the API's JWT authorizer. The password lives in this process only; a user
 * that exists from an earlier run gets a new one.
 */
export class UserDirectoryClient {
  private readonly users = new Map<string, Promise<Identity>>();

  constructor(
    readonly address: UserDirectoryAddress,
    private readonly cognito = new CognitoIdentityProviderClient({}),
  ) {}

  /** The user `username` in exactly-these-or-more `roles`, created on first use. */
  user(username: string, roles: readonly string[]): Promise<Identity> {
    const key = `${username}\u0000${[...roles].sort().join(' ')}`;
    let identity = this.users.get(key);
    if (!identity) {
      identity = this.provision(username, roles);
      identity.catch(() => this.users.delete(key));
      this.users.set(key, identity);
    }
    return identity;
  }

  private async provision(username: string, roles: readonly string[]): Promise<Identity> {
    const { userPoolId, clientId } = this.address;
    const password = newPassword();
    try {
      await this.cognito.send(new AdminCreateUserCommand({ UserPoolId: userPoolId, Username: username, MessageAction: 'SUPPRESS' }));
    } catch (error) {
      if (!(error instanceof UsernameExistsException)) throw error;
    }
    await this.cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: username, Password: password, Permanent: true }));
    for (const role of roles) await this.cognito.send(new AdminAddUserToGroupCommand({ UserPoolId: userPoolId, Username: username, GroupName: role }));

    let current: { token: string; renewAt: number } | undefined;
    let signingIn: Promise<string> | undefined;
    const signIn = async (): Promise<string> => {
      const answer = await this.cognito.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: username, PASSWORD: password } }));
      const token = answer.AuthenticationResult?.AccessToken;
      if (!token) throw new Error(`signing in ${username} gave no access token${answer.ChallengeName ? ` but the challenge ${answer.ChallengeName}` : ''}`);
      const { exp } = TokenClaims.parse(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')));
      current = { token, renewAt: exp * 1000 - RENEW_BEFORE_MS };
      return token;
    };
    await signIn();
    return {
      username,
      accessToken: async () => {
        if (current && Date.now() < current.renewAt) return current.token;
        signingIn ??= signIn().finally(() => (signingIn = undefined));
        return signingIn;
      },
    };
  }
}
