import Control
import ControlServer
import Domain
import Engine
import Instruments
import Logging
import ProtocolFiles
import Simulation
import Storage

/// Owns one rig and at most one run on it at a time. A fault in one rig never touches another.
///
/// Starting a run takes three steps with one job each: ``RunStartValidator`` checks the request against the rig
/// (pure), ``InstrumentSession`` opens and prepares the instruments, and a ``RunLoop`` runs the run to its end.
/// The rig holds no port between runs.
actor RigRunner {
    /// The rig as its file describes it; a reload changes it when the rig is idle, else when its run ends.
    private(set) var rig: RigDescription
    /// The rig's id, which never changes.
    nonisolated let rigID: String
    /// A new description from a reload, waiting for the active run to end.
    private var pendingDescription: RigDescription?
    /// Set when a reload removed the rig's file while it ran: it takes no new run.
    private(set) var retired = false
    private let store: RunStore
    private let hub: RunHub
    private let logger: Logger

    /// The run on the rig now, and the task running its loop.
    private struct ActiveRun {
        let loop: RunLoop
        let task: Task<RunOutcome, Never>
        let session: InstrumentSession
    }

    private var activeRun: ActiveRun?
    /// True while a start talks to the instruments, so a second start is refused rather than raced.
    private var starting = false
    /// Samples each finished simulated run's instrument produced, by run id: the instrument's side of the count
    /// that tests compare with the database.
    private(set) var simulatorSampleCounts: [Int64: Int] = [:]
    /// The current each finished simulated run's instrument was left driving, by run id (0: the cell is off).
    private(set) var simulatorFinalCurrents: [Int64: Double] = [:]
    /// How often a paused run reopens the ports of an instrument that went away.
    private(set) var reconnectInterval: Duration = .seconds(2)

    private let services: RunServices

    init(rig: RigDescription, services: RunServices) {
        self.rig = rig
        self.rigID = rig.id
        self.store = services.store
        self.hub = services.hub
        var logger = services.logger
        logger[metadataKey: "rig"] = .string(rig.id)
        self.logger = logger
        var rigServices = services
        rigServices.logger = logger
        self.services = rigServices
    }

    /// Sets how often a paused run reopens lost ports (tests shorten it).
    func setReconnectInterval(_ interval: Duration) {
        reconnectInterval = interval
    }

    var runningRunID: Int64? { activeRun?.loop.runID }

    var isIdle: Bool { activeRun == nil && !starting }

    /// Takes a reloaded description: now when the rig is idle (returns true), else when its run ends.
    func reloadDescription(_ description: RigDescription) -> Bool {
        guard description != rig else { return true }
        guard isIdle else {
            pendingDescription = description
            return false
        }
        rig = description
        pendingDescription = nil
        return true
    }

    /// The rig's file is gone: it takes no new run, and its active run, if any, goes on to its end.
    func retire() {
        retired = true
    }

    func progress(runID: Int64) -> RunProgress? {
        guard let activeRun, activeRun.loop.runID == runID else { return nil }
        return activeRun.loop.progress.current
    }

    func liveGroundTruth(runID: Int64) async -> [GroundTruthEvent]? {
        guard let activeRun, activeRun.loop.runID == runID, let simulated = activeRun.session.simulated else {
            return nil
        }
        return await simulated.groundTruth
    }

    var info: RigInfo {
        var info = RigInfo(
            id: rig.id, name: rig.name, galvanostat: rig.galvanostat.driverName, metal: rig.cell.metal.rawValue,
            electrolyte: rig.cell.electrolyte, electrode_area_cm2: rig.cell.electrodeArea_cm2,
            busy: activeRun != nil || starting, run_id: activeRun?.loop.runID)
        if activeRun == nil { info.unavailable = InstrumentFactory.unavailability(of: rig) }
        return info
    }

    // MARK: - Starting

    /// Validates the request, opens and prepares the instruments, records the run's start and launches its loop;
    /// returns the run id.
    func start(_ request: StartRunRequest) async throws -> Int64 {
        if let activeRun {
            throw ControlFailure.conflict("rig '\(rig.id)' is busy with run \(activeRun.loop.runID); abort it or wait")
        }
        guard !starting else { throw ControlFailure.conflict("rig '\(rig.id)' is busy starting another run") }
        guard !retired else {
            throw ControlFailure.notFound("rig '\(rig.id)' was removed from the rig folder; it takes no new run")
        }
        let validated = try RunStartValidator(rig: rig).validate(request)
        starting = true
        defer { starting = false }
        let testProtocol = validated.testProtocol
        let session: InstrumentSession
        do {
            session = try await InstrumentSession.open(rig: rig, cell: validated.cell, testProtocol: testProtocol)
        } catch let unavailable as InstrumentUnavailable {
            throw ControlFailure(status: 503, unavailable.description)
        } catch {
            throw ControlFailure.badRequest("\(error)")
        }
        let identities: [InstrumentIdentity]
        do {
            identities = try await session.prepare(
                samplingInterval_s: testProtocol.samplingInterval_s, threeElectrode: testProtocol.threeElectrode)
        } catch {
            await session.close()
            throw ControlFailure(status: 503, "rig '\(rig.id)': the galvanostat is not ready: \(error)")
        }
        do {  // what the identified instrument cannot measure is refused now, not at its step
            try await session.checkImpedance(validated.engine.plan.steps.compactMap(\.impedance))
        } catch {
            await session.close()
            throw ControlFailure.badRequest("\(request.protocol_file): \(error)")
        }
        let runID: Int64
        do {
            runID = try store.createRun(
                RunStart(
                    protocolName: testProtocol.name, protocolFile: request.protocol_file,
                    protocolText: request.protocol_text, protocolParameters: request.parameters, rig: rig,
                    cell: validated.cell, area_cm2: validated.cell.electrodeArea_cm2, plan: validated.engine.plan,
                    instruments: identities),
                threeElectrode: testProtocol.threeElectrode)
        } catch {
            await session.close()
            throw ControlFailure(status: 503, "cannot record the run's start: \(error)")
        }
        let engine = validated.engine(voltageResolution_V: await session.galvanostat.voltageResolution_V)
        let loop = RunLoop(
            runID: runID, engine: engine, session: session, galvanostat: await session.galvanostat,
            settings: RunLoop.Settings(
                samplingInterval_s: testProtocol.samplingInterval_s, onInstrumentLoss: testProtocol.onInstrumentLoss,
                blindCriteria: validated.blindCriteria),
            services: services, reconnectInterval: reconnectInterval)
        logger.info("run \(runID) started: \(testProtocol.name) on \(validated.cell.label ?? "unlabelled cell")")
        launch(loop, session: session)
        return runID
    }

    /// Runs `loop` in a task of its own; the rig is busy until it ends.
    private func launch(_ loop: RunLoop, session: InstrumentSession) {
        let runID = loop.runID
        let task = Task {
            let outcome = await loop.run()
            await self.runEnded(runID: runID)
            return outcome
        }
        activeRun = ActiveRun(loop: loop, task: task, session: session)
    }

    // MARK: - Restarts

    /// Continues run `runID`, which a restart interrupted, on this rig: rebuilds its engine from the database, opens
    /// and prepares the instruments (a simulated cell is brought back to where it stood), and runs the loop from the
    /// interrupted step. `byHand` (an operator's `cellrig resume`) overrides `on_restart: abort`.
    func restore(runID: Int64, byHand: Bool) async throws {
        if let activeRun {
            throw ControlFailure.conflict("rig '\(rig.id)' is busy with run \(activeRun.loop.runID)")
        }
        guard !starting else { throw ControlFailure.conflict("rig '\(rig.id)' is busy starting another run") }
        starting = true
        defer { starting = false }
        guard let recorded = try store.recordedProtocol(runID: runID) else {
            throw ControlFailure.notFound("no run \(runID)")
        }
        let testProtocol: TestProtocol
        do {
            testProtocol = try ProtocolFile.parse(recorded.text, file: recorded.file, parameters: recorded.parameters)
        } catch {
            throw ControlFailure(status: 500, "run \(runID)'s recorded protocol no longer parses: \(error)")
        }
        if testProtocol.onRestart == .abort, !byHand {
            throw ControlFailure.conflict(
                "run \(runID)'s protocol says on_restart: abort; resume it by hand with `cellrig resume \(runID)`")
        }
        let session: InstrumentSession
        do {
            session = try await InstrumentSession.open(rig: rig, cell: recorded.cell, testProtocol: testProtocol)
        } catch let unavailable as InstrumentUnavailable {
            throw ControlFailure(status: 503, unavailable.description)
        }
        let restored: RestoredRun
        do {
            let identities = try await session.prepare(
                samplingInterval_s: testProtocol.samplingInterval_s, threeElectrode: testProtocol.threeElectrode)
            restored = try RunRestorer.restore(
                runID: runID, store: store, voltageResolution_V: await session.galvanostat.voltageResolution_V)
            try store.appendInstruments(identities, runID: runID)
        } catch {
            await session.close()
            throw error as? ControlFailure ?? ControlFailure(status: 503, "rig '\(rig.id)': \(error)")
        }
        if let outcome = restored.engine.outcome {
            // The run had reached its end before the daemon could record it.
            await session.close()
            let who = byHand ? "resumed by the operator" : "the daemon restarted"
            let gap = restored.gap_s.map { "\(formatDuration($0)) of wall time" } ?? "an unknown time"
            let event = RunEvent(
                kind: .operatorCommand, time_s: restored.engine.latestTime_s,
                message: "\(who) after the run was interrupted for \(gap); the run had already ended "
                    + "(\(outcome.state.rawValue): \(outcome.reason)), and its end is recorded now")
            try store.append(runID: runID, samples: [], steps: [], events: [(restored.storedEvents, event)])
            try store.finishRun(runID, outcome: outcome)
            logger.notice("run \(runID) had already ended (\(outcome.state.rawValue)); its end is recorded now")
            return
        }
        await session.simulated?.fastForward(
            through: restored.outputs, sampleCount: restored.storedSamples)
        let event = RunLoop.restartEvent(
            engine: restored.engine, policy: testProtocol.onRestart, gap_s: restored.gap_s, byHand: byHand)
        // The restart goes on record with the run's reopening, in one transaction: a daemon that dies from here on
        // leaves a run that is active on disk, with this restart in its events, for the next start to resume.
        try store.reopenRun(runID, restartEvent: (restored.storedEvents, event))
        let loop = RunLoop(
            runID: runID, engine: restored.engine, session: session, galvanostat: await session.galvanostat,
            settings: RunLoop.Settings(
                samplingInterval_s: testProtocol.samplingInterval_s, onInstrumentLoss: testProtocol.onInstrumentLoss,
                blindCriteria: []),
            services: services, reconnectInterval: reconnectInterval,
            beginning: .afterRestart(
                RunLoop.RestartPlan(
                    policy: testProtocol.onRestart, gap_s: restored.gap_s,
                    levelBeforeGap_V: restored.levelBeforeGap_V, byHand: byHand, event: event)),
            storedSamples: restored.storedSamples, storedEvents: restored.storedEvents + 1,
            storedInputs: restored.storedInputs)
        let policy = testProtocol.onRestart.rawValue
        logger.notice(
            "run \(runID) continues after a restart (\(restored.storedSamples) samples on disk, on_restart: \(policy))")
        launch(loop, session: session)
    }

    /// Clears the rig once its run has ended, and tells live followers how it ended.
    private func runEnded(runID: Int64) async {
        guard let ended = activeRun, ended.loop.runID == runID else { return }
        if let simulated = ended.session.simulated {
            simulatorSampleCounts[runID] = await simulated.producedSampleCount
            simulatorFinalCurrents[runID] = await simulated.appliedCurrent_A
        }
        activeRun = nil
        if let pending = pendingDescription {
            rig = pending
            pendingDescription = nil
            logger.notice("rig '\(rig.id)': the description reloaded during run \(runID) now applies")
        }
        let builder = RunStatusBuilder(store: store, pendingOutcomes: services.pendingOutcomes)
        if let status = try? await builder.status(runID: runID, progress: nil, truth: nil) {
            hub.publish(.end(status), runID: runID)
        }
    }

    // MARK: - Stopping and resuming

    /// Asks the running run to end; returns once it has (cell at open circuit, data stored, ports closed).
    func requestStop(runID: Int64?, state: RunState, reason: String) async throws {
        guard let activeRun, runID == nil || activeRun.loop.runID == runID else {
            if let runID { throw ControlFailure.conflict("run \(runID) is not running on rig '\(rig.id)'") }
            return
        }
        logger.notice("run \(activeRun.loop.runID): \(state.rawValue) requested: \(reason)")
        await activeRun.loop.requestStop(state: state, reason: reason)
        _ = await activeRun.task.value
    }

    /// Continues a paused run: the engine re-applies the step's current.
    func resume(runID: Int64) async throws {
        guard let activeRun, activeRun.loop.runID == runID else {
            throw ControlFailure.conflict("run \(runID) is not running on rig '\(rig.id)'")
        }
        try await activeRun.loop.resume()
    }
}
