import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { StaticWebsite } from '../constructs/StaticWebsite';

export interface CoffeeBoardSiteStackProps extends StackProps {
  /** The coffee shop's HTTP API (the board's queries). */
  readonly apiUrl: string;
  /** The board's live channel (`wss://…`). */
  readonly liveUrl: string;
}

/**
 * The live order board page on AWS: web/board on a private S3 bucket behind CloudFront, with a
 * `config.json` pointing at the shop's APIs. (Locally, `npm start` serves the same files itself:
 * the emulator cannot run the deployment's custom resource; see localstack/README.md.)
 */
export class CoffeeBoardSiteStack extends Stack {
  constructor(scope: Construct, id: string, props: CoffeeBoardSiteStackProps) {
    super(scope, id, props);
    const site = new StaticWebsite(this, 'Board', {
      sourceDirectory: 'web/board',
      exclude: ['*.d.ts'],
      config: { apiUrl: props.apiUrl, liveUrl: props.liveUrl },
      connectTo: [props.apiUrl, props.liveUrl],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new CfnOutput(this, 'BoardUrl', { value: site.url });
  }
}
