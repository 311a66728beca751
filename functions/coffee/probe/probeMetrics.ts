import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PROBE_STAGES } from './boardRow';
import type { ProbeEvaluation } from './probe';
import { PROBE_METRICS } from './probeConfig';
import type { ProbeMetricsSink } from './runProbe';

/**
 * The evaluation as CloudWatch metrics (EMF through Powertools): `OverdueOrders` and `OpenOrders`,
 * and `StageAgeMax` once per stage with the `Stage` dimension, so an alarm says where orders wait.
 * A stage without orders reports 0, so its alarm sees data.
 */
export class PowertoolsProbeMetrics implements ProbeMetricsSink {
  constructor(private readonly metrics: Metrics) {}

  publish(evaluation: ProbeEvaluation): void {
    this.metrics.addMetric(PROBE_METRICS.overdueOrders, MetricUnit.Count, evaluation.overdueOpen);
    this.metrics.addMetric(PROBE_METRICS.openOrders, MetricUnit.Count, evaluation.open);
    this.metrics.publishStoredMetrics();
    for (const stage of PROBE_STAGES) {
      this.metrics
        .singleMetric()
        .addDimension(PROBE_METRICS.stageDimension, stage)
        .addMetric(PROBE_METRICS.stageAgeMax, MetricUnit.Seconds, evaluation.stageAges[stage].maxSeconds);
    }
  }
}
