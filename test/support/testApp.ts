// The test-only CDK app: what the conformance and integration tests deploy besides the reference stacks.
import { App } from 'aws-cdk-lib';
import { ProbeStack } from '../conformance/probe/ProbeStack';
import { ConsumerTestStack } from '../integration/consumer/ConsumerTestStack';
import { RelayTestStack } from '../integration/relay/RelayTestStack';

const app = new App();
new ProbeStack(app, 'ConformanceProbe');
new ConsumerTestStack(app, 'ConsumerTest');
new RelayTestStack(app, 'RelayTest');
new (await import('../integration/projection/ProjectionTestStack')).ProjectionTestStack(app, 'ProjectionTest');
new (await import('../integration/live/LiveTestStack')).LiveTestStack(app, 'LiveTest');
new (await import('../integration/eventstore/EventStoreTestStack')).EventStoreTestStack(app, 'EventStoreTest');
new (await import('../integration/saga/SagaTestStack')).SagaTestStack(app, 'SagaTest');
