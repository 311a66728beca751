import { RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECTION_ENV } from '../../functions/toolkit/projection/projectionConfig';
import { ProjectionTable } from '../../lib/constructs/ProjectionTable';
import { ToolkitFunction } from '../../lib/constructs/ToolkitFunction';
import { allow, permissionSet, permissionsOf, wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';

/** Any handler file will do: nothing is bundled. */
const ENTRY = 'functions/coffee/counter/pickupHandler.ts';

function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  const resource = template.toJSON().Resources[stack.getLogicalId(construct.node.defaultChild as CfnElement)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return resource.Properties ?? {};
}

describe('ProjectionTable with its defaults', () => {
  let stack: Stack;
  let projection: ProjectionTable;
  let projector: ToolkitFunction;
  let reader: ToolkitFunction;
  let template: Template;

  beforeAll(() => {
    // Arrange
    stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    projector = new ToolkitFunction(stack, 'Projector', { entry: ENTRY });
    reader = new ToolkitFunction(stack, 'Reader', { entry: ENTRY });
    // Act
    projection = new ProjectionTable(stack, 'Board');
    projection.grantProject(projector);
    projection.grantRead(reader);
    template = Template.fromStack(stack);
  });

  it('is keyed by the string pk, on demand, encrypted with its own rotating key, with point-in-time recovery and no stream', () => {
    const table = propertiesOf(template, stack, projection.table);

    expect(table).toMatchObject({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(projection.key.keyArn) },
    });
    expect(table).not.toHaveProperty('StreamSpecification');
    expect(propertiesOf(template, stack, projection.key)).toMatchObject({ EnableKeyRotation: true });
  });

  it('is retained on stack deletion by default', () => {
    const logicalId = stack.getLogicalId(projection.table.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[logicalId].DeletionPolicy).toBe('Retain');
  });

  it('lets the projector load, put and update rows (and use the key), and tells it the table', () => {
    expect(permissionsOf(template, stack, projector.role)).toEqual(
      permissionSet(
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(projector.logGroup.logGroupArn)),
        allow(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], stack.resolve(projection.table.tableArn)),
        allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], stack.resolve(projection.key.keyArn)),
      ),
    );
    expect(propertiesOf(template, stack, projector).Environment.Variables).toMatchObject({ [PROJECTION_ENV.table]: stack.resolve(projection.table.tableName) });
  });

  it('lets a reader get, scan and query, and decrypt — nothing more', () => {
    expect(permissionsOf(template, stack, reader.role)).toEqual(
      permissionSet(
        allow(['logs:CreateLogStream', 'logs:PutLogEvents'], stack.resolve(reader.logGroup.logGroupArn)),
        allow(['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query'], stack.resolve(projection.table.tableArn)),
        allow(['kms:Decrypt'], stack.resolve(projection.key.keyArn)),
      ),
    );
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(template)).toEqual([]);
  });
});

describe('ProjectionTable with options', () => {
  it('streams new images with `stream`, and is destroyed with the stack when asked', () => {
    const stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    const projection = new ProjectionTable(stack, 'Board', { stream: true, removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);

    expect(propertiesOf(template, stack, projection.table)).toMatchObject({ StreamSpecification: { StreamViewType: 'NEW_IMAGE' } });
    const logicalId = stack.getLogicalId(projection.table.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[logicalId].DeletionPolicy).toBe('Delete');
  });
});

describe('cdk-nag AwsSolutions checks on a stack with a projection table', () => {
  itPassesNagChecks((app) => {
    const stack = new Stack(app, 'Projection');
    const projection = new ProjectionTable(stack, 'Board', { stream: true });
    projection.grantProject(new ToolkitFunction(stack, 'Projector', { entry: ENTRY }));
    projection.grantRead(new ToolkitFunction(stack, 'Reader', { entry: ENTRY }));
  });
});
