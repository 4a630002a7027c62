import Control
import ControlServer
import Domain
import Engine
import Foundation
import Instruments
import Logging
import ProtocolFiles
import Simulation
import Storage

/// Owns one rig: its instruments and at most one run at a time. A fault in one rig never touches another.
///
/// A run executes as a loop on this actor: ask the galvanostat for a sample, hand it to the engine, store what
/// the engine produced, carry out its commands. Operator commands (abort) and shutdown land between samples.
/// Every way out of the loop (end of plan, stop criterion, abort, instrument fault, shutdown) passes through
/// the engine's end, which commands open circuit, then the instrument's end of run (whose last samples are
/// recorded too) and the recorder's flush.
actor RigRunner {
    let rig: RigDescription
    private let store: RunStore
    private let hub: RunHub
    private let logger: Logger

    private var activeRun: ActiveRun?
    /// Samples each finished simulated run's instrument produced, by run id: the instrument's side of the count
    /// that tests compare with the database.
    private(set) var simulatorSampleCounts: [Int64: Int] = [:]
    private var runTask: Task<Void, Never>?
    /// The serial instruments of the latest run; closed when the next run opens them again.
    private var serialInstruments: SerialRigInstruments?
    private var stopRequest: (state: RunState, reason: String)?
    /// How often a paused run reopens the ports of an instrument that went away.
    private(set) var reconnectInterval: Duration = .seconds(2)

    /// Sets how often a paused run reopens lost ports (tests shorten it).
    func setReconnectInterval(_ interval: Duration) {
        reconnectInterval = interval
    }

    /// What the rig is doing now, for status and progress.
    private struct ActiveRun {
        let runID: Int64
        let simulated: SimulatedGalvanostat?
        var progress: RunProgress
    }

    init(rig: RigDescription, store: RunStore, hub: RunHub, logger: Logger) {
        self.rig = rig
        self.store = store
        self.hub = hub
        var logger = logger
        logger[metadataKey: "rig"] = .string(rig.id)
        self.logger = logger
    }

    var runningRunID: Int64? { activeRun?.runID }

    func progress(runID: Int64) -> RunProgress? {
        guard let activeRun, activeRun.runID == runID else { return nil }
        return activeRun.progress
    }

    func liveGroundTruth(runID: Int64) async -> [GroundTruthEvent]? {
        guard let activeRun, activeRun.runID == runID, let simulated = activeRun.simulated else { return nil }
        return await simulated.groundTruth
    }

    var info: RigInfo {
        var info = RigInfo(
            id: rig.id, name: rig.name, galvanostat: rig.galvanostat.driverName, metal: rig.cell.metal.rawValue,
            electrolyte: rig.cell.electrolyte, electrode_area_cm2: rig.cell.electrodeArea_cm2, busy: activeRun != nil,
            run_id: activeRun?.runID)
        if activeRun == nil { info.unavailable = InstrumentFactory.unavailability(of: rig) }
        return info
    }

    // MARK: - Starting

    /// Validates the request, records the run's start and launches it; returns the run id.
    func start(_ request: StartRunRequest) async throws -> Int64 {
        if let activeRun {
            throw ControlFailure.conflict("rig '\(rig.id)' is busy with run \(activeRun.runID); abort it or wait")
        }
        let testProtocol: TestProtocol
        do {
            testProtocol = try ProtocolFile.parse(
                request.protocol_text, file: request.protocol_file, parameters: request.parameters)
        } catch {
            throw ControlFailure.badRequest(error.description)
        }
        var cell = rig.cell
        if let label = request.cell_label { cell.label = label }
        if let area = request.area_cm2 {
            guard area > 0, area.isFinite else {
                throw ControlFailure.badRequest("area_cm2 must be positive, got \(area)")
            }
            cell.electrodeArea_cm2 = area
        }
        let engine: RunEngine
        do {
            engine = try RunEngine(
                protocol: testProtocol, area_cm2: cell.electrodeArea_cm2,
                context: RunContext(cell: cell, conditions: testProtocol.conditions))
        } catch {
            throw ControlFailure.badRequest("\(request.protocol_file): \(error.message)")
        }
        if let largest = engine.plan.steps.map({ abs($0.current_A) }).max(), largest > rig.limits.current_A {
            throw ControlFailure.badRequest(
                "\(request.protocol_file): the plan needs \(formatCurrent(largest)) but rig '\(rig.id)' is limited "
                    + "to \(formatCurrent(rig.limits.current_A)) (limits.current in its rig file); lower the "
                    + "schedule's maximum or raise the limit")
        }

        let (galvanostat, simulated): (any Galvanostat, SimulatedGalvanostat?)
        do {
            (galvanostat, simulated) = try await makeGalvanostat(cell: cell, testProtocol: testProtocol)
        } catch let unavailable as InstrumentUnavailable {
            throw ControlFailure(status: 503, unavailable.description)
        } catch {
            throw ControlFailure.badRequest("\(error)")
        }
        if engine.plan.steps.contains(where: { $0.kind == .impedance }), !Self.measuresImpedance(galvanostat) {
            throw ControlFailure.badRequest(
                "\(request.protocol_file): the protocol has impedance steps, but rig '\(rig.id)' has a galvanostat "
                    + "that cannot measure impedance (\(rig.galvanostat.driverName))")
        }
        let identities: [InstrumentIdentity]
        do {
            identities = try await prepare(
                galvanostat, samplingInterval_s: testProtocol.samplingInterval_s,
                threeElectrode: testProtocol.threeElectrode)
        } catch {
            throw ControlFailure(status: 503, "rig '\(rig.id)': the galvanostat is not ready: \(error)")
        }
        do {  // what the identified instrument cannot measure is refused now, not at its step
            for settings in engine.plan.steps.compactMap(\.impedance) {
                try await (galvanostat as? any ImpedanceAnalyzer)?.checkImpedance(settings)
            }
        } catch {
            throw ControlFailure.badRequest("\(request.protocol_file): \(error)")
        }
        if let activeRun {  // another start won the race while we talked to the instrument
            throw ControlFailure.conflict("rig '\(rig.id)' is busy with run \(activeRun.runID)")
        }
        let runStart = RunStart(
            protocolName: testProtocol.name, protocolFile: request.protocol_file, protocolText: request.protocol_text,
            protocolParameters: request.parameters, rig: rig, cell: cell, area_cm2: cell.electrodeArea_cm2,
            plan: engine.plan, instruments: identities)
        let runID = try store.createRun(runStart, threeElectrode: testProtocol.threeElectrode)
        let firstStep = engine.plan.steps.first
        activeRun = ActiveRun(
            runID: runID, simulated: simulated,
            progress: RunProgress(
                run_id: runID, step: 0, steps: engine.plan.steps.count, cycle: firstStep?.cycle ?? 0,
                kind: firstStep?.kind.rawValue ?? "rest", current_density_mA_cm2: firstStep?.currentDensity_mA_cm2 ?? 0,
                current_A: firstStep?.current_A ?? 0, voltage_V: 0, voltage_we_re_V: nil, time_s: 0, samples: 0,
                fraction_done: 0))
        stopRequest = nil
        logger.info("run \(runID) started: \(testProtocol.name) on \(cell.label ?? "unlabelled cell")")
        let settings = RunSettings(
            samplingInterval_s: testProtocol.samplingInterval_s, onInstrumentLoss: testProtocol.onInstrumentLoss)
        runTask = Task {
            await self.execute(runID: runID, engine: engine, galvanostat: galvanostat, settings: settings)
        }
        return runID
    }

    /// The run's galvanostat: an in-process simulator, or the rig's serial instruments, opened afresh for
    /// every run (the previous run's ports are closed first, so an instrument that came back is reconnected).
    private func makeGalvanostat(cell: CellDescription, testProtocol: TestProtocol) async throws -> (
        any Galvanostat, SimulatedGalvanostat?
    ) {
        switch rig.galvanostat {
        case .simulated(let configuration):
            let model = try SimulatedCells.model(
                configuration, cell: cell, threeElectrode: testProtocol.threeElectrode, rigFile: "rig '\(rig.id)'")
            let simulated = SimulatedGalvanostat(name: rig.id, model: model, speed: configuration.speed)
            return (simulated, simulated)
        case .methodScript, .keithley2400:
            await serialInstruments?.close()
            serialInstruments = nil
            let instruments = try await InstrumentFactory.open(rig)
            serialInstruments = instruments
            return (instruments, nil)
        }
    }

    // MARK: - Stopping

    /// Asks the running run to end; returns once it has (cell at open circuit, data stored).
    func requestStop(runID: Int64?, state: RunState, reason: String) async throws {
        guard let activeRun, runID == nil || activeRun.runID == runID else {
            if let runID { throw ControlFailure.conflict("run \(runID) is not running on rig '\(rig.id)'") }
            return
        }
        if stopRequest == nil { stopRequest = (state, reason) }
        logger.notice("run \(activeRun.runID): \(state.rawValue) requested: \(reason)")
        await runTask?.value
    }

    /// Continues a paused run: the engine re-applies the step's current.
    func resume(runID: Int64) async throws {
        guard let execution, execution.runID == runID else {
            throw ControlFailure.conflict("run \(runID) is not running on rig '\(rig.id)'")
        }
        guard execution.engine.isPaused else { throw ControlFailure.conflict("run \(runID) is not paused") }
        await handle(self.execution!.engine.resume())
        notePause(false, runID: runID)
    }

    private func notePause(_ paused: Bool, runID: Int64) {
        try? store.setState(paused ? .paused : .running, runID: runID)
        logger.notice("run \(runID) \(paused ? "paused at open circuit" : "resumed")")
    }

    // MARK: - The run loop

    /// What the run loop needs from the protocol besides the engine.
    private struct RunSettings {
        let samplingInterval_s: Double
        let onInstrumentLoss: InstrumentLossPolicy
    }

    /// The state of the run loop, held by the actor so operator commands can land between samples.
    private struct Execution {
        let runID: Int64
        /// Replaced when a lost instrument is reopened.
        var galvanostat: any Galvanostat
        let settings: RunSettings
        /// Added to the instrument's times: a reopened instrument's clock starts again from zero.
        var timeOffset_s = 0.0
        /// Set when an instrument was reopened, until its first sample fixes ``timeOffset_s``: the latest cell
        /// time before the loss and when the loss was seen.
        var clockToJoin: (latest_s: Double, lost: ContinuousClock.Instant)?
        var engine: RunEngine
        var recorder: RunRecorder
        let plannedDuration_s: Double
        var lastPublish = ContinuousClock.now
        /// When the latest sample arrived from the instrument.
        var sampleArrival = ContinuousClock.now
        /// Arrival of the sample that tripped a stop to the cell-off command handed to the instrument.
        var reactionTime: Duration?
    }

    private var execution: Execution?

    private func execute(runID: Int64, engine: RunEngine, galvanostat: any Galvanostat, settings: RunSettings) async {
        execution = Execution(
            runID: runID, galvanostat: galvanostat, settings: settings, engine: engine,
            recorder: RunRecorder(store: store, runID: runID),
            plannedDuration_s: engine.plan.steps.compactMap(\.expectedDuration_s).reduce(0, +))
        let started = execution!.engine.start(at: 0)
        await handle(started)
        try? store.setState(.running, runID: runID)
        while let current = execution, !current.engine.isFinished {
            if let stop = stopRequest {
                await handle(execution!.engine.end(stop.state, reason: stop.reason))
                break
            }
            let sample: InstrumentSample
            do {
                sample = onRunClock(try await current.galvanostat.nextSample())
                execution?.sampleArrival = ContinuousClock.now
            } catch {
                if current.settings.onInstrumentLoss == .pause, Self.isLoss(error), serialInstruments != nil {
                    if await pauseUntilReconnected(after: error, runID: runID) { continue }
                    if let stop = stopRequest {
                        await handle(execution!.engine.end(stop.state, reason: stop.reason))
                        break
                    }
                }
                await recordFault("instrument: \(error)")
                await handle(execution!.engine.end(.faulted, reason: "instrument fault: \(error)"))
                break
            }
            let wasPaused = execution!.engine.isPaused
            let output = execution!.engine.ingest(sample)
            await handle(output)
            if let execution, execution.engine.isPaused != wasPaused, !execution.engine.isFinished {
                notePause(execution.engine.isPaused, runID: runID)
            }
            if let recorded = output.recorded { updateProgress(with: recorded) }
        }
        await finishExecution()
    }

    /// Carries out what the engine commanded, then stores what it produced and publishes its events.
    ///
    /// Commands go first so the cell's safety never waits for a disk write; what the engine produced is always
    /// stored, even when the instrument refused a command, and a refusal then ends the run as faulted.
    private func handle(_ output: EngineOutput) async {
        guard let runID = execution?.runID else { return }
        var refusal: (command: InstrumentCommand, error: any Error)?
        var spectrum: [ImpedancePoint]?
        for command in output.commands {
            if command == .openCircuit, output.outcome?.state == .stopped, execution!.reactionTime == nil {
                execution!.reactionTime = ContinuousClock.now - execution!.sampleArrival
            }
            do {
                switch command {
                case .applyCurrent(let current): try await execution!.galvanostat.applyCurrent(current)
                case .openCircuit: try await execution!.galvanostat.openCircuit()
                case .measureImpedance(let settings):
                    guard let analyzer = execution!.galvanostat as? any ImpedanceAnalyzer else {
                        throw InstrumentError(
                            .rejected, instrument: rig.id, "the rig's galvanostat cannot measure impedance")
                    }
                    spectrum = try await analyzer.measureImpedance(settings)
                }
            } catch {
                refusal = (command, error)
                break
            }
        }
        record(output, runID: runID)
        if !output.commands.isEmpty, refusal == nil { await recordLateSamples(runID: runID) }
        if let spectrum, refusal == nil, execution?.engine.isFinished == false {
            await handle(execution!.engine.impedanceMeasured(spectrum))
            return
        }
        if let (command, error) = refusal {
            logger.error("run \(runID): instrument refused \(command): \(error)")
            await recordFault("instrument refused \(command): \(error)")
            if !execution!.engine.isFinished {
                record(execution!.engine.end(.faulted, reason: "instrument fault: \(error)"), runID: runID)
            }
            try? await execution!.galvanostat.openCircuit()
        }
    }

    /// Stores the samples the instrument measured under the previous output but handed over only after a command
    /// changed it (a MethodSCRIPT driver reads them while aborting its script): in the step they were measured
    /// in, unjudged, so a step change never sees the old step's tail as its own first samples.
    private func recordLateSamples(runID: Int64) async {
        guard let galvanostat = execution?.galvanostat else { return }
        for sample in await galvanostat.takePendingSamples() {
            guard execution != nil else { return }
            record(execution!.engine.recordLate(onRunClock(sample)), runID: runID)
        }
    }

    /// `sample` on the run's clock: the instrument's time plus the offset a reopened instrument needs. The first
    /// sample after a reopening joins the clocks: it lands at the latest cell time before the loss plus the wall
    /// time the instrument was away (at least one sampling interval).
    private func onRunClock(_ sample: InstrumentSample) -> InstrumentSample {
        guard var current = execution else { return sample }
        if let join = current.clockToJoin {
            let away_s = Self.seconds(ContinuousClock.now - join.lost)
            let joined_s = join.latest_s + max(away_s, current.settings.samplingInterval_s)
            current.timeOffset_s = joined_s - sample.time_s
            current.clockToJoin = nil
            execution = current
        }
        var adjusted = sample
        adjusted.time_s += current.timeOffset_s
        return adjusted
    }

    // MARK: - Lost instruments

    /// Whether `error` means the instrument's port went away (rather than a refusal or a garbled reply).
    private static func isLoss(_ error: any Error) -> Bool {
        (error as? InstrumentError)?.code == .disconnected || error is InstrumentUnavailable
    }

    /// Pauses the run after its instrument went away (protocol `on_instrument_loss: pause`) and reopens the rig's
    /// ports every ``reconnectInterval`` until the instruments answer again; returns true once they do (the run
    /// stays paused until the operator resumes it) and false when a stop request ended the wait.
    private func pauseUntilReconnected(after error: any Error, runID: Int64) async -> Bool {
        guard execution != nil else { return false }
        let lost = ContinuousClock.now
        let latest_s = execution!.engine.latestTime_s
        execution!.engine.suspend(
            Verdict(
                criterion: "instrument", action: .pause, reason: "the instrument's port went away: \(error)",
                time_s: latest_s))
        await recordFault(
            "instrument lost: \(error); the run is paused at open circuit while cellrigd reopens the port "
                + "every \(reconnectInterval)")
        notePause(true, runID: runID)
        try? await execution!.galvanostat.openCircuit()  // the port is gone; an instrument still there obeys
        logger.warning("run \(runID): instrument lost; reopening the rig's ports every \(reconnectInterval)")
        while stopRequest == nil {
            try? await Task.sleep(for: reconnectInterval)
            guard stopRequest == nil else { return false }
            await serialInstruments?.close()
            let instruments: SerialRigInstruments
            let identities: [InstrumentIdentity]
            do {
                instruments = try await InstrumentFactory.open(rig)
                do {
                    identities = try await prepare(
                        instruments, samplingInterval_s: execution!.settings.samplingInterval_s,
                        threeElectrode: execution!.engine.threeElectrode)
                    try await instruments.openCircuit()
                } catch {
                    await instruments.close()
                    continue
                }
            } catch {
                continue
            }
            serialInstruments = instruments
            execution!.galvanostat = instruments
            execution!.clockToJoin = (latest_s, lost)
            try? store.appendInstruments(identities, runID: runID)
            let names = identities.map { "\($0.model) \($0.serialNumber) on \($0.port)" }.joined(separator: ", ")
            let event = RunEvent(
                kind: .operatorCommand, time_s: latest_s,
                message: "instrument reconnected: \(names); the run stays paused at open circuit until resumed")
            try? execution!.recorder.recordEvent(event)
            hub.publish(.event(EventInfo(runID: runID, event)), runID: runID)
            logger.notice("run \(runID): instrument reconnected (\(names)); waiting for resume")
            return true
        }
        return false
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Stores the engine's output; a storage failure ends the run as faulted with the cell at open circuit.
    private func record(_ output: EngineOutput, runID: Int64) {
        do {
            try execution!.recorder.record(output)
        } catch {
            logger.critical("run \(runID): storage failed: \(error)")
            if !execution!.engine.isFinished {
                let ended = execution!.engine.end(.faulted, reason: "storage failed: \(error)")
                try? execution!.recorder.record(ended)
            }
            // The loop sees the finished engine and leaves; finishExecution opens the circuit.
            return
        }
        for event in output.events { hub.publish(.event(EventInfo(runID: runID, event)), runID: runID) }
    }

    private func recordFault(_ message: String) async {
        guard let runID = execution?.runID else { return }
        let fault = RunEvent(kind: .fault, time_s: execution!.engine.latestTime_s, message: message)
        try? execution!.recorder.recordEvent(fault)
        hub.publish(.event(EventInfo(runID: runID, fault)), runID: runID)
    }

    private func updateProgress(with recorded: RecordedSample) {
        guard let execution, var active = activeRun, execution.engine.plan.steps.indices.contains(recorded.stepIndex)
        else { return }
        let engine = execution.engine
        let sample = recorded.sample
        let step = engine.plan.steps[recorded.stepIndex]
        active.progress.step = step.index
        active.progress.cycle = step.cycle
        active.progress.kind = step.kind.rawValue
        active.progress.current_density_mA_cm2 = step.currentDensity_mA_cm2
        active.progress.current_A = sample.current_A
        active.progress.voltage_V = sample.voltage_V
        active.progress.voltage_we_re_V = sample.voltageWERE_V
        active.progress.time_s = sample.time_s
        active.progress.samples = engine.sampleCount
        let planned = execution.plannedDuration_s
        active.progress.fraction_done = planned > 0 ? min(1, sample.time_s / planned) : 0
        activeRun = active
        let now = ContinuousClock.now
        if now - execution.lastPublish >= .milliseconds(200) {
            self.execution?.lastPublish = now
            hub.publish(.progress(active.progress), runID: active.runID)
        }
    }

    private func finishExecution() async {
        guard var finished = execution else { return }
        let runID = finished.runID
        // Whatever ended the loop, the engine's end commanded open circuit first; now end the run on the
        // instrument: cell off, instrument idle, no new measurement started.
        do {
            try await finished.galvanostat.finishRun()
        } catch {
            logger.error("run \(runID): finishing the run on the instrument failed: \(error)")
        }
        // Samples the instrument sent while it stopped (read by the driver, not yet returned) are the run's too:
        // recorded in the step of the latest sample, after the run's end, without being judged.
        for sample in await finished.galvanostat.takePendingSamples() {
            do {
                try finished.recorder.record(finished.engine.recordLate(onRunClock(sample)))
            } catch {
                logger.critical("run \(runID): storage failed: \(error)")
                break
            }
        }
        do {
            try finished.recorder.flush()
        } catch {
            logger.critical("run \(runID): final flush failed: \(error)")
        }
        var outcome =
            finished.engine.outcome ?? RunOutcome(state: .faulted, reason: "the run loop ended without an outcome")
        if let reaction = finished.reactionTime { outcome.reactionTime_s = Self.seconds(reaction) }
        if let simulated = activeRun?.simulated {
            try? store.recordGroundTruth(runID, events: await simulated.groundTruth)
            simulatorSampleCounts[runID] = await simulated.producedSampleCount
        }
        do {
            try store.finishRun(runID, outcome: outcome)
        } catch {
            logger.critical("run \(runID): cannot record the outcome: \(error)")
        }
        logger.info(
            "run \(runID) \(outcome.state.rawValue): \(outcome.reason); \(finished.recorder.storedSamples) samples stored"
        )
        execution = nil
        activeRun = nil
        runTask = nil
        stopRequest = nil
        if let status = try? await RunStatusBuilder(store: store).status(runID: runID, progress: nil, truth: nil) {
            hub.publish(.end(status), runID: runID)
        }
    }
}

// MARK: - Instruments

extension RigRunner {
    /// Identifies the run's instruments and prepares the galvanostat for the protocol (sampling interval, the rig's
    /// hardware limits, which voltages to measure); returns the identities to record.
    fileprivate func prepare(_ galvanostat: any Galvanostat, samplingInterval_s: Double, threeElectrode: Bool)
        async throws -> [InstrumentIdentity]
    {
        let identities = try await identifyInstruments(galvanostat)
        try await galvanostat.configure(samplingInterval_s: samplingInterval_s, limits: rig.limits)
        try await galvanostat.measureBothVoltages(threeElectrode)
        return identities
    }

    /// Every instrument of the run (galvanostat first, then the pressure sensor), as recorded in its start record.
    fileprivate func identifyInstruments(_ galvanostat: any Galvanostat) async throws -> [InstrumentIdentity] {
        if let instruments = galvanostat as? SerialRigInstruments { return try await instruments.identifyAll() }
        return [try await galvanostat.identify()]
    }

    /// Whether `galvanostat` can carry out impedance steps.
    fileprivate static func measuresImpedance(_ galvanostat: any Galvanostat) -> Bool {
        if let instruments = galvanostat as? SerialRigInstruments { return instruments.measuresImpedance }
        return galvanostat is any ImpedanceAnalyzer
    }

    /// The serial instruments of the latest run (tests and benchmarks read their counters).
    var latestSerialInstruments: SerialRigInstruments? { serialInstruments }
}
