import Domain
import Engine
import Storage

/// Buffers one run's samples, steps and events and writes them in batches: one transaction per batch keeps
/// SQLite fast at thousands of samples per second, and a flush at every event and at the end loses nothing.
struct RunRecorder {
    let store: RunStore
    let runID: Int64
    /// Most samples held before a write.
    var batchSize = 2000
    /// Longest wall time a sample waits in the buffer.
    var maximumDelay: Duration = .seconds(1)

    private(set) var storedSamples = 0
    private var samples: [RecordedSample] = []
    private var steps: [StepRecordRow] = []
    private var events: [(seq: Int, event: RunEvent)] = []
    private var eventCount = 0
    private var lastFlush = ContinuousClock.now

    init(store: RunStore, runID: Int64) {
        self.store = store
        self.runID = runID
        samples.reserveCapacity(batchSize)
    }

    var eventsRecorded: Int { eventCount }

    /// Takes what the engine produced; writes when the batch is full, the oldest sample is due, or events came.
    mutating func record(_ output: EngineOutput) throws {
        if let recorded = output.recorded { samples.append(recorded) }
        if let spectrum = output.spectrum {
            try store.appendSpectrum(
                runID: runID, stepIndex: spectrum.stepIndex, cycle: spectrum.cycle, points: spectrum.points)
        }
        for step in output.steps { steps.append(StepRecordRow(step)) }
        for event in output.events {
            events.append((eventCount, event))
            eventCount += 1
        }
        if samples.count >= batchSize || !events.isEmpty || ContinuousClock.now - lastFlush >= maximumDelay {
            try flush()
        }
    }

    mutating func recordEvent(_ event: RunEvent) throws {
        events.append((eventCount, event))
        eventCount += 1
        try flush()
    }

    mutating func flush() throws {
        lastFlush = ContinuousClock.now
        guard !samples.isEmpty || !steps.isEmpty || !events.isEmpty else { return }
        try store.append(runID: runID, samples: samples, steps: steps, events: events)
        storedSamples += samples.count
        samples.removeAll(keepingCapacity: true)
        steps.removeAll()
        events.removeAll()
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
