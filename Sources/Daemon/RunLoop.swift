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
}
