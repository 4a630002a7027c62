import Control
import ControlServer
import Domain
import Engine
import ImpedanceAnalysis
import Instruments
import Logging
import Simulation
import Storage
import Synchronization

/// One run, from its first command to its last flush. It owns the engine, the instruments' session, the recorder
/// and the clock outright, so nothing in it is optional.
///
/// A sample flows one way: the galvanostat hands over a batch (``Galvanostat/nextSamples()``), each sample goes
/// onto the run's clock and into the engine, and what the engine produced goes to the recorder, which hands
/// batches to the ``StorageWriter`` in the background. When the engine commands the instrument, the commands go
/// first (the cell's safety never waits for a disk write); the batch's later samples were measured before the
/// command, so a simulator rewinds to the commanding sample and a real instrument's are recorded as late.
/// Operator commands (abort, resume) and shutdown land between batches. Every way out of the loop passes through
/// the engine's end (open circuit), the instrument's end of run, the final flush and the closing of the ports.
actor RunLoop {
    /// What the loop needs from the protocol besides the engine.
    struct Settings: Sendable {
        let samplingInterval_s: Double
        let onInstrumentLoss: InstrumentLossPolicy
        /// Optional criteria that judge nothing on this rig, recorded as warnings when the run starts.
        let blindCriteria: [(criterion: String, reason: String)]
    }

    let runID: Int64
    /// The run's live position, readable without waiting for the loop.
    let progress: ProgressBoard
    var engine: RunEngine
    let session: InstrumentSession
    var galvanostat: any Galvanostat
    let settings: Settings
    var clock: RunClock
    var recorder: RunRecorder
    let beginning: Beginning
    /// After a restart: the first samples under current, to compare with the level before the gap.
    var shortCheck: (levelBeforeGap_V: Double, highest_V: Double, remaining: Int)?
    let writer: StorageWriter
    let store: RunStore
    /// Where the outcome goes when the database cannot take it.
    let journal: OutcomeJournal
    let pendingOutcomes: PendingOutcomes
    let hub: RunHub
    let logger: Logger
    var stopRequest: (state: RunState, reason: String)?
    /// Whether the instrument makes the loop wait for its samples (real time); each batch is then stored at once.
    var instrumentPaces = false
    /// When the batch being ingested arrived from the instrument.
    var batchArrival = ContinuousClock.now
    /// For a stop: from the tripping batch's arrival to the cell-off command, and to the instrument's confirmation.
    var cellOffCommand: Duration?
    var cellOffConfirmed: Duration?
    var latestRecorded: RecordedSample?
    /// Fits running in the background; the run's end waits for them, so their events are in its record.
    var fitTasks: [Task<Void, Never>] = []
    var lastPublish = ContinuousClock.now
    /// The plan's expected cell time, for the share done.
    let plannedDuration_s: Double
    /// Per step, the expected cell time of the steps before it.
    let plannedBefore_s: [Double]
    /// While the run is paused: the wall time and cell time the pause was first seen at. A paused run records its
    /// open-circuit samples no faster than real time (a simulator at unlimited speed would otherwise fill the disk
    /// while the run waits for an operator).
    var pausePacing: (wall: ContinuousClock.Instant, cell_s: Double)?
    /// How often a paused run reopens the ports of an instrument that went away.
    let reconnectInterval: Duration

    /// How the loop begins: a new run from its first step, or a run a restart interrupted.
    enum Beginning: Sendable {
        case fresh
        case afterRestart(RestartPlan)
    }

    /// What a resumed run needs to continue where it stood.
    struct RestartPlan: Sendable {
        /// `resume` continues the step, `restart-step` runs it again from its start.
        let policy: RestartPolicy
        /// Wall time the run was away, when known.
        let gap_s: Double?
        /// The step's |voltage| before the gap, to recognise a cell that shorted meanwhile.
        let levelBeforeGap_V: Double?
        /// Whether an operator asked for it (`cellrig resume`) rather than the daemon's start.
        let byHand: Bool
        /// The event saying the run continues (``restartEvent(engine:policy:gap_s:byHand:)``), already stored.
        let event: RunEvent
    }

    init(
        runID: Int64, engine: RunEngine, session: InstrumentSession, galvanostat: any Galvanostat, settings: Settings,
        services: RunServices, reconnectInterval: Duration, beginning: Beginning = .fresh, storedSamples: Int = 0,
        storedEvents: Int = 0, storedInputs: Int = 0
    ) {
        let (store, hub, logger) = (services.store, services.hub, services.logger)
        self.journal = services.journal
        self.pendingOutcomes = services.pendingOutcomes
        self.beginning = beginning
        self.recorder = RunRecorder(firstEventSeq: storedEvents, firstInputSeq: storedInputs)
        self.runID = runID
        self.engine = engine
        self.session = session
        self.galvanostat = galvanostat
        self.settings = settings
        self.clock = RunClock(samplingInterval_s: settings.samplingInterval_s)
        self.writer = StorageWriter(store: store, runID: runID, alreadyStored: storedSamples)
        self.store = store
        self.hub = hub
        self.logger = logger
        self.reconnectInterval = reconnectInterval
        self.progress = ProgressBoard(RunProgress(starting: runID, plan: engine.plan))
        self.plannedDuration_s = engine.plan.steps.compactMap(\.expectedDuration_s).reduce(0, +)
        var before: [Double] = []
        var sum = 0.0
        for step in engine.plan.steps {
            before.append(sum)
            sum += step.expectedDuration_s ?? 0
        }
        self.plannedBefore_s = before
    }

    // MARK: - Operator commands

    /// Asks the loop to end the run; it does so between two batches.
    func requestStop(state: RunState, reason: String) {
        if stopRequest == nil { stopRequest = (state, reason) }
    }

    /// Continues a paused run: the engine re-applies the step's current.
    func resume() async throws(ControlFailure) {
        guard engine.isPaused, !engine.isFinished else { throw .conflict("run \(runID) is not paused") }
        await carryOut(apply(.resume, reason: "resumed by the operator"))
        notePause(false)
        await flushAndWait()
    }

    /// Hands everything buffered to storage and waits until it is on disk (after operator commands, so their
    /// events are stored when the command returns).
    func flushAndWait() async {
        await writer.submit(recorder.takeBatch())
        await writer.drain()
    }

    // MARK: - The loop

    /// Runs the run to its end and returns how it ended (already stored).
    func run() async -> RunOutcome {
        switch beginning {
        case .fresh:
            await carryOut(engine.start(at: 0))
        case .afterRestart(let plan):
            await continueAfterRestart(plan)
        }
        for blind in settings.blindCriteria {
            let verdict = Verdict(criterion: blind.criterion, action: .warn, reason: blind.reason, time_s: 0)
            record(
                RunEvent(
                    kind: .verdict, time_s: 0, message: "\(blind.criterion): warn: \(blind.reason)", verdict: verdict))
        }
        if !engine.isFinished { try? store.setState(engine.isPaused ? .paused : .running, runID: runID) }
        while !engine.isFinished {
            if let stop = stopRequest {
                await carryOut(engine.end(stop.state, reason: stop.reason))
                break
            }
            if await waitWhilePausedAheadOfRealTime() {
                await flushIfDue()
                publishProgress(force: false)
                continue
            }
            let waitStarted = ContinuousClock.now
            let batch: [InstrumentSample]
            do {
                // A paused run takes one sample at a time, so the pacing above spaces them one interval apart.
                batch = engine.isPaused ? [try await galvanostat.nextSample()] : try await galvanostat.nextSamples()
            } catch {
                if await continueAfterLoss(error) { continue }
                break
            }
            batchArrival = ContinuousClock.now
            instrumentPaces = batchArrival - waitStarted > .milliseconds(2)
            await ingest(batch)
            await flushIfDue()
            if let failure = writer.failure, !engine.isFinished {
                logger.critical("run \(runID): storage failed: \(failure)")
                await carryOut(engine.end(.faulted, reason: "storage failed: \(failure)"))
            }
            publishProgress(force: false)
        }
        return await finish()
    }

    /// While the run is paused, sleeps (a quarter second at most, so commands and shutdown are not kept waiting)
    /// when the instrument's cell time has run ahead of the wall time since the pause began; true when it slept.
    /// A real instrument is never ahead, so only a fast simulator is slowed, to one sample per sampling interval
    /// (the loop takes single samples while paused).
    func waitWhilePausedAheadOfRealTime() async -> Bool {
        guard engine.isPaused else {
            pausePacing = nil
            return false
        }
        let now = ContinuousClock.now
        guard let pacing = pausePacing else {
            pausePacing = (now, engine.latestTime_s)
            return false
        }
        let ahead = Duration.seconds(engine.latestTime_s - pacing.cell_s) - (now - pacing.wall)
        guard ahead > .zero else { return false }
        try? await Task.sleep(for: min(ahead, .milliseconds(250)))
        return true
    }

    /// Feeds a batch to the engine, sample by sample, until the engine commands the instrument or the batch ends.
    func ingest(_ batch: [InstrumentSample]) async {
        var index = batch.startIndex
        while index < batch.endIndex, !engine.isFinishedInPlace {
            let sample = clock.place(batch[index], now: batchArrival)
            let wasPaused = engine.isPausedInPlace
            // After a restart, the first sample under current is compared with the level before the gap before the
            // criteria see it: a cell that shorted meanwhile ends the run as not resumed, not as a short found now.
            if shortCheck != nil, let refusal = judgeAfterRestart(sample) {
                let ended = engine.end(.interrupted, reason: refusal)
                record(engine.ingest(sample))
                index += 1
                var late = Array(batch[index...])
                if !late.isEmpty, await galvanostat.rewind(toSampleAt: batch[index - 1].time_s) { late = [] }
                await carryOut(ended, lateSamples: late)
                return
            }
            let output = engine.ingest(sample)
            index += 1
            guard !output.commands.isEmpty else {
                record(output)
                continue
            }
            // The batch's later samples were measured before this command could take effect: a simulator that
            // measured ahead takes them back, a real instrument's are recorded as late.
            var late = Array(batch[index...])
            if !late.isEmpty, await galvanostat.rewind(toSampleAt: batch[index - 1].time_s) { late = [] }
            index = batch.endIndex
            await carryOut(output, lateSamples: late)
            if engine.isPaused != wasPaused, !engine.isFinished { notePause(engine.isPaused) }
        }
    }

    /// Carries out what the engine commanded, then records what it produced and the samples measured before the
    /// command took effect. A refused command ends the run as faulted, at open circuit.
    func carryOut(_ output: EngineOutput, lateSamples: [InstrumentSample] = []) async {
        var refusal: (command: InstrumentCommand, error: any Error)?
        var spectrum: [ImpedancePoint]?
        for command in output.commands {
            let stopsTheCell = command == .openCircuit && output.outcome?.state == .stopped && cellOffCommand == nil
            if stopsTheCell { cellOffCommand = ContinuousClock.now - batchArrival }
            do {
                switch command {
                case .applyCurrent(let current): try await galvanostat.applyCurrent(current)
                case .openCircuit: try await galvanostat.openCircuit()
                case .applyPotential(let program):
                    guard let potentiostat = galvanostat as? any Potentiostat else {
                        throw InstrumentError(
                            .rejected, instrument: session.rig.id, "the rig's galvanostat cannot set a potential")
                    }
                    try await potentiostat.applyPotential(program)
                case .measureImpedance(let settings):
                    guard let analyzer = galvanostat as? any ImpedanceAnalyzer else {
                        throw InstrumentError(
                            .rejected, instrument: session.rig.id, "the rig's galvanostat cannot measure impedance")
                    }
                    spectrum = try await analyzer.measureImpedance(settings)
                case .setTemperature(let setpoint_C):
                    guard let rig = galvanostat as? SerialRigInstruments, rig.controlsTemperature else {
                        throw InstrumentError(
                            .rejected, instrument: session.rig.id, "the rig has no temperature controller")
                    }
                    try await rig.setTemperature(setpoint_C)
                }
            } catch {
                refusal = (command, error)
                break
            }
            if stopsTheCell { cellOffConfirmed = ContinuousClock.now - batchArrival }
        }
        record(output)
        for sample in lateSamples { record(engine.recordLate(clock.place(sample, now: batchArrival))) }
        if !output.commands.isEmpty, refusal == nil { await recordPendingSamples() }
        if let spectrum, refusal == nil, !engine.isFinished {
            await carryOut(engine.impedanceMeasured(spectrum))
            return
        }
        if let (command, error) = refusal {
            logger.error("run \(runID): instrument refused \(command): \(error)")
            recordFault("instrument refused \(command): \(error)")
            if !engine.isFinished {
                record(engine.end(.faulted, reason: FaultReason.instrumentFault(error, during: command)))
            }
            try? await galvanostat.openCircuit()
        }
    }

    /// Records the samples the driver read while a command changed the output (a MethodSCRIPT script it aborted):
    /// measured under the previous output, so late and unjudged.
    func recordPendingSamples() async {
        for sample in await galvanostat.takePendingSamples() {
            record(engine.recordLate(clock.place(sample, now: ContinuousClock.now)))
        }
    }

    // MARK: - Recording

    /// Buffers the engine's output, stores its spectrum, and publishes its events.
    func record(_ output: EngineOutput) {
        recorder.record(output, now: batchArrival)
        // The live position shows the latest reading with finite values (JSON has no NaN).
        if let recorded = output.recorded, recorded.sample.current_A.isFinite, recorded.sample.voltage_V.isFinite {
            latestRecorded = recorded
            if !(recorded.sample.voltageWERE_V?.isFinite ?? true) { latestRecorded?.sample.voltageWERE_V = nil }
        }
        if let spectrum = output.spectrum {
            do {
                try store.appendSpectrum(
                    runID: runID, stepIndex: spectrum.stepIndex, cycle: spectrum.cycle, points: spectrum.points)
                fitInBackground(spectrum)
            } catch {
                logger.critical("run \(runID): storing the spectrum failed: \(error)")
                recordFault("storing the impedance spectrum of step \(spectrum.stepIndex) failed: \(error)")
            }
        }
        for event in output.events { hub.publish(.event(EventInfo(runID: runID, event)), runID: runID) }
    }

    /// Gives the engine an input from outside the samples and records it, so a replay takes the same course.
    func apply(_ kind: RunInput.Kind, reason: String, verdict: Verdict? = nil) -> EngineOutput {
        let input = engine.input(kind, reason: reason, verdict: verdict)
        recorder.record(input, now: ContinuousClock.now)
        return engine.apply(input)
    }

    /// Records an event that did not come from the engine.
    func record(_ event: RunEvent) {
        recorder.record(event, now: ContinuousClock.now)
        hub.publish(.event(EventInfo(runID: runID, event)), runID: runID)
    }

    func recordFault(_ message: String) {
        record(RunEvent(kind: .fault, time_s: engine.latestTime_s, message: message))
    }

    /// Hands the buffer to storage when it is due, or at once when the instrument paces the run.
    func flushIfDue() async {
        guard !recorder.isEmpty, instrumentPaces || recorder.isDue(now: ContinuousClock.now) else { return }
        await writer.submit(recorder.takeBatch())
    }

    func notePause(_ paused: Bool) {
        try? store.setState(paused ? .paused : .running, runID: runID)
        publishProgress(force: true)
        logger.notice("run \(runID) \(paused ? "paused at open circuit" : "resumed")")
    }

    // MARK: - The end

    /// Ends the run on the instrument (cell off, instrument idle), records what it still held, flushes, stores the
    /// outcome and closes the ports.
    func finish() async -> RunOutcome {
        do {
            try await galvanostat.finishRun()
        } catch {
            logger.error("run \(runID): finishing the run on the instrument failed: \(error)")
        }
        for task in fitTasks { await task.value }
        // Samples the instrument sent while it stopped are the run's too: recorded after its end, unjudged.
        for sample in await galvanostat.takePendingSamples() {
            record(engine.recordLate(clock.place(sample, now: ContinuousClock.now)))
        }
        await flushAndWait()
        writer.close()
        var outcome = engine.outcome ?? RunOutcome(state: .faulted, reason: "the run loop ended without an outcome")
        if let failure = writer.failure, outcome.state != .faulted {
            outcome = RunOutcome(
                state: .faulted, reason: "storage failed: \(failure) (the run had ended: \(outcome.reason))")
        }
        outcome.reactionTime_s = cellOffCommand?.seconds
        outcome.cellOffConfirmedTime_s = cellOffConfirmed?.seconds
        let discarded = await session.discardedReadingCount
        if let simulated = session.simulated {
            try? store.recordGroundTruth(runID, events: await simulated.groundTruth)
        }
        do {
            try store.finishRun(runID, outcome: outcome, discardedReadings: discarded)
        } catch {
            logger.critical("run \(runID): cannot record the outcome in the database: \(error)")
            pendingOutcomes.keep(outcome, runID: runID)
            do {
                try journal.append(.init(runID: runID, outcome: outcome, discardedReadings: discarded))
                logger.notice("run \(runID): its outcome is kept in \(journal.path) for the next start to record")
            } catch {
                logger.critical("run \(runID): cannot keep the outcome in \(journal.path) either: \(error)")
            }
        }
        await session.close()
        publishProgress(force: true)
        logger.info("run \(runID) \(outcome.state.rawValue): \(outcome.reason); \(writer.storedSamples) samples stored")
        return outcome
    }
}

extension RunEngine {
    // The loop asks these before every sample. Read in place: a plain read of the engine (a large struct stored in
    // the actor) copies all of it for each question.

    var isFinishedInPlace: Bool { mutating get { isFinished } }

    var isPausedInPlace: Bool { mutating get { isPaused } }
}
