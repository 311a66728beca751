import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PROJECTION_ENV } from '../../functions/toolkit/projection/projectionConfig';
import { PROJECTION } from '../../functions/toolkit/projection/projectionItem';

export interface ProjectionTableProps {
  /**
   * A stream of the rows' new images, e.g. to push live updates of a read model to clients.
   * @default false
   */
  readonly stream?: boolean;
  /** The row attribute holding its expiry (epoch seconds, `ProjectionDefinition.attributes`): DynamoDB deletes rows past it. @default rows never expire */
  readonly timeToLiveAttribute?: string;
  /**
   * Sparse indexes on string row attributes (`ProjectionDefinition.attributes`): only rows that have
   * the attribute are in the index; `ProjectionReader.byIndex` queries one. @default none
   */
  readonly indexes?: readonly { readonly indexName: string; readonly attribute: string }[];
  /** The key that encrypts the table. @default a new key with rotation on */
  readonly encryptionKey?: kms.IKey;
  /** Of the table and of a new key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The table of a read model built by `defineProjection`: one item per row (string partition key
 * `pk`) plus one summary item, on demand, encrypted with a customer-managed key, with point-in-time
 * recovery. A rebuilt read model is a new, empty table that catches up from the event logs.
 */
export class ProjectionTable extends Construct {
  public readonly table: dynamodb.Table;
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: ProjectionTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key =
      props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Encrypts the projection table ${this.node.path}`, removalPolicy });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: PROJECTION.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy,
      ...(props.stream ? { stream: dynamodb.StreamViewType.NEW_IMAGE } : {}),
      ...(props.timeToLiveAttribute ? { timeToLiveAttribute: props.timeToLiveAttribute } : {}),
    });
    for (const index of props.indexes ?? []) {
      this.table.addGlobalSecondaryIndex({ indexName: index.indexName, partitionKey: { name: index.attribute, type: dynamodb.AttributeType.STRING }, projectionType: dynamodb.ProjectionType.ALL });
    }
    this.indexNames = (props.indexes ?? []).map((index) => index.indexName);
  }

  private readonly indexNames: readonly string[];

  /** The ARNs a reader of this table and its indexes needs. */
  private readArns(): string[] {
    return [this.table.tableArn, ...this.indexNames.map((name) => `${this.table.tableArn}/index/${name}`)];
  }

  /**
   * Lets a projection function keep the rows: `GetItem` (load), `PutItem` (the row, conditionally)
   * and `UpdateItem` (the summary's `ADD`, in the same transaction) on this table, encrypt and
   * decrypt with its key, and sets `PROJECTION_TABLE`.
   */
  grantProject(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(PROJECTION_ENV.table, this.table.tableName);
    this.key.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    return iam.Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], resourceArns: [this.table.tableArn] });
  }

  /** Lets a query function read rows and the summary (`ProjectionReader`): `GetItem`, `Scan`, `Query`, and decrypt. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    this.key.grant(grantee, 'kms:Decrypt');
    return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query'], resourceArns: this.readArns() });
  }

  /** Lets a function query the table's indexes (`ProjectionReader.byIndex`), and nothing else: `Query` on the indexes, and decrypt. */
  grantQueryIndexes(grantee: iam.IGrantable): iam.Grant {
    this.key.grant(grantee, 'kms:Decrypt');
    return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: this.indexNames.map((name) => `${this.table.tableArn}/index/${name}`) });
  }
}
