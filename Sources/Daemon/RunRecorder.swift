import Domain
import Engine
import Storage

/// Collects what the engine produces for one run and decides when it goes to storage as a batch.
///
/// A batch is handed to the ``StorageWriter`` when it holds ``batchSize`` samples, when it holds an event (so
/// events reach the disk at once), when its oldest entry has waited ``maximumDelay`` of wall time, or when the
/// loop says the instrument paces the run (each sample then reaches the disk as it comes).
struct RunRecorder {
    /// Most samples held before a write.
    var batchSize = 4096
    /// Longest wall time an entry waits in the buffer.
    var maximumDelay: Duration = .seconds(1)

    private var batch = RunRecordBatch()
    private var eventCount = 0
    private var inputCount = 0
    private var oldestPending: ContinuousClock.Instant?

    /// A recorder whose first event and input take sequence numbers `firstEventSeq` and `firstInputSeq` (a resumed
    /// run continues its own).
    init(firstEventSeq: Int = 0, firstInputSeq: Int = 0) {
        eventCount = firstEventSeq
        inputCount = firstInputSeq
        batch.samples.reserveCapacity(batchSize)
    }

    /// Events recorded so far (the next event's sequence number).
    var eventsRecorded: Int { eventCount }

    /// Whether the buffer should go to storage now.
    func isDue(now: ContinuousClock.Instant) -> Bool {
        guard let oldestPending else { return false }
        return batch.samples.count >= batchSize || !batch.events.isEmpty || !batch.inputs.isEmpty
            || now - oldestPending >= maximumDelay
    }

    var isEmpty: Bool { batch.isEmpty }

    /// Takes the engine's sample, step records and events (its spectrum is stored by the caller).
    mutating func record(_ output: EngineOutput, now: ContinuousClock.Instant) {
        if let recorded = output.recorded { batch.samples.append(recorded) }
        for step in output.steps { batch.steps.append(StepRecordRow(step)) }
        for event in output.events { append(event) }
        if oldestPending == nil, !batch.isEmpty { oldestPending = now }
    }

    /// Takes an event that did not come from the engine (a fault, a reconnection).
    mutating func record(_ event: RunEvent, now: ContinuousClock.Instant) {
        append(event)
        if oldestPending == nil { oldestPending = now }
    }

    /// Takes an input the run loop gave the engine from outside the samples.
    mutating func record(_ input: RunInput, now: ContinuousClock.Instant) {
        batch.inputs.append((inputCount, input))
        inputCount += 1
        if oldestPending == nil { oldestPending = now }
    }

    private mutating func append(_ event: RunEvent) {
        batch.events.append((eventCount, event))
        eventCount += 1
    }

    /// Hands over everything buffered and starts a new batch.
    mutating func takeBatch() -> RunRecordBatch {
        var taken = RunRecordBatch()
        taken.samples.reserveCapacity(batchSize)
        swap(&taken, &batch)
        oldestPending = nil
        return taken
    }
}

extension StepRecordRow {
    init(_ record: StepRecord) {
        self.init(
            index: record.step.index, cycle: record.step.cycle, kind: record.step.kind.rawValue,
            current_A: record.step.current_A, currentDensity_mA_cm2: record.step.currentDensity_mA_cm2,
            startTime_s: record.startTime_s, endTime_s: record.endTime_s, endReason: record.endReason?.rawValue,
            charge_C: record.charge_C)
    }
}
