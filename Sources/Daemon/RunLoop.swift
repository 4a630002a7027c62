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
    private var engine: RunEngine
    private let session: InstrumentSession
    private var galvanostat: any Galvanostat
    private let settings: Settings
    private var clock: RunClock
    private var recorder = RunRecorder()
    private let writer: StorageWriter
    private let store: RunStore
    private let hub: RunHub
    private let logger: Logger
    private var stopRequest: (state: RunState, reason: String)?
    /// Whether the instrument makes the loop wait for its samples (real time); each batch is then stored at once.
    private var instrumentPaces = false
    /// When the batch being ingested arrived from the instrument.
    private var batchArrival = ContinuousClock.now
    /// For a stop: from the tripping batch's arrival to the cell-off command, and to the instrument's confirmation.
    private var cellOffCommand: Duration?
    private var cellOffConfirmed: Duration?
    private var latestRecorded: RecordedSample?
    /// Fits running in the background; the run's end waits for them, so their events are in its record.
    private var fitTasks: [Task<Void, Never>] = []
    private var lastPublish = ContinuousClock.now
    /// The plan's expected cell time, for the share done.
    private let plannedDuration_s: Double
    /// How often a paused run reopens the ports of an instrument that went away.
    private let reconnectInterval: Duration

    init(
        runID: Int64, engine: RunEngine, session: InstrumentSession, galvanostat: any Galvanostat, settings: Settings,
        store: RunStore, hub: RunHub, logger: Logger, reconnectInterval: Duration
    ) {
        self.runID = runID
        self.engine = engine
        self.session = session
        self.galvanostat = galvanostat
        self.settings = settings
        self.clock = RunClock(samplingInterval_s: settings.samplingInterval_s)
        self.writer = StorageWriter(store: store, runID: runID)
        self.store = store
        self.hub = hub
        self.logger = logger
        self.reconnectInterval = reconnectInterval
        self.progress = ProgressBoard(RunProgress(starting: runID, plan: engine.plan))
        self.plannedDuration_s = engine.plan.steps.compactMap(\.expectedDuration_s).reduce(0, +)
    }

    // MARK: - Operator commands

    /// Asks the loop to end the run; it does so between two batches.
    func requestStop(state: RunState, reason: String) {
        if stopRequest == nil { stopRequest = (state, reason) }
    }

    /// Continues a paused run: the engine re-applies the step's current.
    func resume() async throws(ControlFailure) {
        guard engine.isPaused, !engine.isFinished else { throw .conflict("run \(runID) is not paused") }
        await carryOut(engine.resume())
        notePause(false)
        await flushAndWait()
    }

    /// Hands everything buffered to storage and waits until it is on disk (after operator commands, so their
    /// events are stored when the command returns).
    private func flushAndWait() async {
        await writer.submit(recorder.takeBatch())
        await writer.drain()
    }

    // MARK: - The loop

    /// Runs the run to its end and returns how it ended (already stored).
    func run() async -> RunOutcome {
        await carryOut(engine.start(at: 0))
        for blind in settings.blindCriteria {
            let verdict = Verdict(criterion: blind.criterion, action: .warn, reason: blind.reason, time_s: 0)
            record(
                RunEvent(
                    kind: .verdict, time_s: 0, message: "\(blind.criterion): warn: \(blind.reason)", verdict: verdict))
        }
        try? store.setState(.running, runID: runID)
        while !engine.isFinished {
            if let stop = stopRequest {
                await carryOut(engine.end(stop.state, reason: stop.reason))
                break
            }
            let waitStarted = ContinuousClock.now
            let batch: [InstrumentSample]
            do {
                batch = try await galvanostat.nextSamples()
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

    /// Feeds a batch to the engine, sample by sample, until the engine commands the instrument or the batch ends.
    private func ingest(_ batch: [InstrumentSample]) async {
        var index = batch.startIndex
        while index < batch.endIndex, !engine.isFinished {
            let sample = clock.place(batch[index], now: batchArrival)
            let wasPaused = engine.isPaused
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
    private func carryOut(_ output: EngineOutput, lateSamples: [InstrumentSample] = []) async {
        var refusal: (command: InstrumentCommand, error: any Error)?
        var spectrum: [ImpedancePoint]?
        for command in output.commands {
            let stopsTheCell = command == .openCircuit && output.outcome?.state == .stopped && cellOffCommand == nil
            if stopsTheCell { cellOffCommand = ContinuousClock.now - batchArrival }
            do {
                switch command {
                case .applyCurrent(let current): try await galvanostat.applyCurrent(current)
                case .openCircuit: try await galvanostat.openCircuit()
                case .measureImpedance(let settings):
                    guard let analyzer = galvanostat as? any ImpedanceAnalyzer else {
                        throw InstrumentError(
                            .rejected, instrument: session.rig.id, "the rig's galvanostat cannot measure impedance")
                    }
                    spectrum = try await analyzer.measureImpedance(settings)
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
    private func recordPendingSamples() async {
        for sample in await galvanostat.takePendingSamples() {
            record(engine.recordLate(clock.place(sample, now: ContinuousClock.now)))
        }
    }

    // MARK: - Recording

    /// Buffers the engine's output, stores its spectrum, and publishes its events.
    private func record(_ output: EngineOutput) {
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

    /// Fits the circuit the impedance step names (if any) off the loop, stores the fit, and records its result
    /// as an event. A spectrum that cannot be fitted is an event too, never a fault of the run.
    private func fitInBackground(_ spectrum: RecordedSpectrum) {
        guard engine.plan.steps.indices.contains(spectrum.stepIndex) else { return }
        let step = engine.plan.steps[spectrum.stepIndex]
        guard step.impedanceFit != nil else { return }
        let (area_cm2, threeElectrode, store, runID) = (engine.plan.area_cm2, engine.threeElectrode, store, runID)
        let time_s = engine.latestTime_s
        fitTasks.append(
            Task.detached {
                let message: String
                do {
                    if let fit = try ImpedanceFitter.fitMeasuredSpectrum(
                        spectrum.points, step: step, area_cm2: area_cm2, threeElectrode: threeElectrode)
                    {
                        try store.saveImpedanceFit(fit, runID: runID, stepIndex: spectrum.stepIndex)
                        message = "step \(spectrum.stepIndex): \(fit.summary)"
                    } else {
                        message = "step \(spectrum.stepIndex): no circuit to fit"
                    }
                } catch {
                    message = "step \(spectrum.stepIndex): the spectrum could not be fitted: \(error)"
                }
                await self.record(
                    RunEvent(kind: .impedanceFitted, time_s: time_s, message: message, stepIndex: spectrum.stepIndex))
            })
    }

    /// Records an event that did not come from the engine.
    private func record(_ event: RunEvent) {
        recorder.record(event, now: ContinuousClock.now)
        hub.publish(.event(EventInfo(runID: runID, event)), runID: runID)
    }

    private func recordFault(_ message: String) {
        record(RunEvent(kind: .fault, time_s: engine.latestTime_s, message: message))
    }

    /// Hands the buffer to storage when it is due, or at once when the instrument paces the run.
    private func flushIfDue() async {
        guard !recorder.isEmpty, instrumentPaces || recorder.isDue(now: ContinuousClock.now) else { return }
        await writer.submit(recorder.takeBatch())
    }

    private func notePause(_ paused: Bool) {
        try? store.setState(paused ? .paused : .running, runID: runID)
        publishProgress(force: true)
        logger.notice("run \(runID) \(paused ? "paused at open circuit" : "resumed")")
    }

    // MARK: - Progress

    /// Updates the live position (samples counted are samples on disk) and, at most every 200 ms, publishes it to
    /// live followers.
    private func publishProgress(force: Bool) {
        var current = progress.current
        if let recorded = latestRecorded, engine.plan.steps.indices.contains(recorded.stepIndex) {
            let step = engine.plan.steps[recorded.stepIndex]
            current.step = step.index
            current.cycle = step.cycle
            current.kind = step.kind.rawValue
            current.current_density_mA_cm2 = step.currentDensity_mA_cm2
            current.current_A = recorded.sample.current_A
            current.voltage_V = recorded.sample.voltage_V
            current.voltage_we_re_V = recorded.sample.voltageWERE_V
            current.time_s = recorded.sample.time_s
            current.fraction_done = plannedDuration_s > 0 ? min(1, recorded.sample.time_s / plannedDuration_s) : 0
        }
        current.samples = writer.storedSamples
        progress.update(current)
        let now = ContinuousClock.now
        guard force || now - lastPublish >= .milliseconds(200) else { return }
        lastPublish = now
        hub.publish(.progress(current), runID: runID)
    }

    // MARK: - Lost instruments

    /// Decides what an instrument failure means: with `on_instrument_loss: pause` and a lost port, the run waits
    /// at open circuit for the instrument (true: go on looping); otherwise the run ends as faulted (false).
    private func continueAfterLoss(_ error: any Error) async -> Bool {
        if settings.onInstrumentLoss == .pause, Self.isLoss(error), session.canReconnect {
            if await pauseUntilReconnected(after: error) { return true }
            if let stop = stopRequest {
                await carryOut(engine.end(stop.state, reason: stop.reason))
                return false
            }
        }
        recordFault("instrument: \(error)")
        await carryOut(engine.end(.faulted, reason: FaultReason.instrumentFault(error)))
        return false
    }

    /// Whether `error` means the instrument's port went away (rather than a refusal or a garbled reply).
    private static func isLoss(_ error: any Error) -> Bool {
        (error as? InstrumentError)?.code == .disconnected || error is InstrumentUnavailable
    }

    /// Pauses the run after its instrument went away and reopens the rig's ports every ``reconnectInterval`` until
    /// they answer; returns true once they do (the run stays paused until the operator resumes it) and false when
    /// a stop request ended the wait.
    private func pauseUntilReconnected(after error: any Error) async -> Bool {
        let lost = ContinuousClock.now
        let latest_s = engine.latestTime_s
        engine.suspend(
            Verdict(
                criterion: "instrument", action: .pause, reason: "the instrument's port went away: \(error)",
                time_s: latest_s))
        recordFault(
            "instrument lost: \(error); the run is paused at open circuit while cellrigd reopens the port every "
                + "\(reconnectInterval)")
        notePause(true)
        await flushAndWait()
        try? await galvanostat.openCircuit()  // the port is gone; an instrument still there obeys
        logger.warning("run \(runID): instrument lost; reopening the rig's ports every \(reconnectInterval)")
        while stopRequest == nil {
            try? await Task.sleep(for: reconnectInterval)
            guard stopRequest == nil else { return false }
            let identities: [InstrumentIdentity]
            do {
                identities = try await session.reopen(
                    samplingInterval_s: settings.samplingInterval_s, threeElectrode: engine.threeElectrode)
            } catch {
                continue
            }
            galvanostat = await session.galvanostat
            clock.instrumentReopened(latest_s: latest_s, lost: lost)
            try? store.appendInstruments(identities, runID: runID)
            let names = identities.map { "\($0.model) \($0.serialNumber) on \($0.port)" }.joined(separator: ", ")
            record(
                RunEvent(
                    kind: .operatorCommand, time_s: latest_s,
                    message: "instrument reconnected: \(names); the run stays paused at open circuit until resumed"))
            await flushAndWait()
            logger.notice("run \(runID): instrument reconnected (\(names)); waiting for resume")
            return true
        }
        return false
    }

    // MARK: - The end

    /// Ends the run on the instrument (cell off, instrument idle), records what it still held, flushes, stores the
    /// outcome and closes the ports.
    private func finish() async -> RunOutcome {
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
            logger.critical("run \(runID): cannot record the outcome: \(error)")
        }
        await session.close()
        publishProgress(force: true)
        logger.info("run \(runID) \(outcome.state.rawValue): \(outcome.reason); \(writer.storedSamples) samples stored")
        return outcome
    }
}

/// A run's live position, shared between its loop (which writes it) and status requests (which read it without
/// waiting for the loop).
final class ProgressBoard: Sendable {
    private let state: Mutex<RunProgress>

    init(_ initial: RunProgress) {
        state = Mutex(initial)
    }

    var current: RunProgress { state.withLock { $0 } }

    func update(_ progress: RunProgress) {
        state.withLock { $0 = progress }
    }
}

extension RunProgress {
    /// The position of a run that is starting: its first step, nothing measured yet.
    init(starting runID: Int64, plan: StepPlan) {
        let first = plan.steps.first
        self.init(
            run_id: runID, step: 0, steps: plan.steps.count, cycle: first?.cycle ?? 0,
            kind: first?.kind.rawValue ?? "rest", current_density_mA_cm2: first?.currentDensity_mA_cm2 ?? 0,
            current_A: first?.current_A ?? 0, voltage_V: 0, voltage_we_re_V: nil, time_s: 0, samples: 0,
            fraction_done: 0)
    }
}
