/**
 * Where a request's time went, in milliseconds, by kind of stage: who the caller is and whether it
 * may (`authMs`), reading and checking the body (`validateMs`), the Idempotency-Key (`idempotencyMs`),
 * the Graph token (`tokenMs`), the audit record written before Graph is called (`auditIntentMs`),
 * Graph itself with its retries and the lost-answer checks that go with it (`graphMs`), the audit
 * outcome written after (`auditOutcomeMs`), and an audit query's reads (`queryMs`). A stage the
 * request never reached has no field. The pipeline runner measures them (shared/pipeline/pipeline.ts).
 */
export type StageTimingField = 'authMs' | 'validateMs' | 'idempotencyMs' | 'tokenMs' | 'auditIntentMs' | 'graphMs' | 'auditOutcomeMs' | 'queryMs';

export type StageTimings = Partial<Record<StageTimingField, number>>;
