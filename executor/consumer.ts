// The assignment consumer: runs each job assigned to this executor, stores what it answered, sends the result.
import type { Bus, Consumer } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { AssignMessage, ResultMessage } from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import type { Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { fromStored, fromWire, toStored } from '../state/tensor-map.ts';
import { signResult } from '../state/job.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { asJobId, asModelId } from '../state/types.ts';
import type { ModelSource } from './model-source.ts';
import type { ExecutorPolicy } from './policy.ts';
import type { ResultStore } from './results.ts';
import { IN_PROCESS, type ModelRunner } from './sandbox/pool.ts';
import { runDecidable } from './decidable.ts';

/** A big model may take long: the ack wait bounds how long a crashed executor holds a job. */
const ASSIGN_ACK_WAIT_MS = 120_000;

export class AssignmentConsumer {
  constructor(
    private readonly id: ExecutorId,
    private readonly bus: Bus,
    private readonly results: ResultStore,
    private readonly models: ModelSource,
    private readonly policy: ExecutorPolicy,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Where models run: the worker passes its sandbox pool; in this process only when none is given. */
    private readonly runner: ModelRunner = IN_PROCESS,
    /** The executor's 64-byte Solana secret key: every result is signed with it (the id's key). */
    private readonly secretKey?: Uint8Array,
  ) {}

  /** The signature over the job record this result commits the executor to (none without a key). */
  private sign(jobId: JobId, modelId: ModelId, inputDigest: Hash32, outputDigest: Hash32, fee: string) {
    if (!this.secretKey) return undefined;
    const r = { jobId, modelId, inputDigest, outputDigest, executor: this.id, fee: BigInt(fee) };
    return signResult(r, this.secretKey).signature;
  }

  /**
   * Consumes this executor's assignments, `capacity` jobs at a time. They arrive in batches (one message per
   * sequencer tick); each job is acked on its own once its result is stored on the bus, and a batch redelivered
   * after a crash is answered from the result store for the jobs that had finished.
   */
  start(capacity: number, ackWaitMs = ASSIGN_ACK_WAIT_MS): Promise<Consumer> {
    return messages.consume(
      this.bus,
      messages.ASSIGN,
      { of: this.id },
      `executor-${this.id}`,
      (m) => this.onAssign(m),
      { maxInFlight: capacity, ackWaitMs },
    );
  }

  async onAssign(raw: AssignMessage): Promise<void> {
    const jobId = asJobId(raw.jobId, 'jobId');
    const done = await this.results.get(jobId);
    let result: ResultMessage;
    if (done) {
      // A redelivered assignment (its batch came back after a crash, or the job came back to this executor): answer
      // with what was already committed to, without running it again when the answer was stored.
      const inputs = fromStored(done.inputs);
      let sent = done.outputs && fromStored(done.outputs);
      if (!sent) {
        const model = await this.models(done.modelId);
        const { outputs } = await runDecidable(this.runner, model, inputs);
        sent = await this.policy.answer({ jobId, model, inputs }, outputs, true);
      }
      this.metrics.inc('jobs_answered_from_store_total');
      const signature = this.sign(jobId, done.modelId, tensorSetDigest(inputs), done.outputDigest, raw.fee);
      result = { jobId, executor: this.id, outputs: sent, outputDigest: done.outputDigest, signature };
    } else {
      try {
        const inputs = fromWire(raw.inputs, `job ${jobId} inputs`);
        const model = await this.models(asModelId(raw.modelId, 'modelId'));
        const t0 = performance.now();
        const { outputs } = await runDecidable(this.runner, model, inputs);
        this.metrics.observe('job_execution_seconds', (performance.now() - t0) / 1000);
        const sent = await this.policy.answer({ jobId, model, inputs }, outputs, false);
        const outputDigest = tensorSetDigest(sent);
        const inputDigest = tensorSetDigest(inputs);
        await this.results.put(
          {
            jobId,
            modelId: model.modelId,
            inputs: toStored(inputs),
            outputDigest,
            outputs: toStored(sent),
            at: Date.now(),
          },
          inputDigest,
        );
        const signature = this.sign(jobId, model.modelId, inputDigest, outputDigest, raw.fee);
        result = { jobId, executor: this.id, outputs: sent, outputDigest, signature };
      } catch (e) {
        // The code leads, so a job killed by the sandbox ends with its reason (TIME_LIMIT, MEMORY_LIMIT) in view.
        const message =
          e instanceof OptinferError ? `${e.code}: ${e.message}` : `internal error: ${(e as Error).message}`;
        this.log.warn({ jobId, err: message }, 'job failed');
        result = { jobId, executor: this.id, error: message };
      }
    }
    await messages.send(this.bus, messages.RESULT, this.id, result, { msgId: `result:${jobId}:${this.id}` });
  }
}
