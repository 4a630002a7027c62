import Control
import ControlServer
import Domain
import Engine
import Foundation
import ProtocolFiles
import Replay
import Simulation
import Storage
import TestSupport
import Testing
import WireSimulators

@testable import Daemon

/// Readings as the instrument meant them: odd ones stored with flags and never costing another, late ones marked so
/// a replay is the live run.
@Suite("Sample quality through the daemon and a MethodSCRIPT pseudo-terminal", .serialized)
struct SampleQualityTests {
    /// Runs the shortened seed CCD on a MethodSCRIPT simulator with `faults`; returns the final status, the stored
    /// samples and what the simulator sent.
    func runCCD(faults: MethodScriptSimulator.Faults) async throws -> (
        final: RunStatus, samples: [RecordedSample], sent: Int, store: RunStore, runID: Int64
    ) {
        let simulator = MethodScriptSimulator(cell: testCell(), faults: faults)
        let port = try SimulatedPort.start(simulator)
        let rig = try serialRig(
            id: "q", driver: "methodscript", galvanostatPort: port.path, options: "  reply_timeout: 30 s")
        let running = try await RunningDaemon.start(rigs: [rig])
        let started = try await running.startRun(
            text: try shortened("protocols/ccd-step-symmetric.yaml"), file: "ccd-short.yaml", rig: "q")
        let final = try await running.waitForEnd(started.id)
        let store = try running.store
        var samples: [RecordedSample] = []
        try store.forEachSample(runID: started.id) { samples.append($0) }
        let sent = await simulator.sentSampleCount
        await running.stop()
        await port.stop()
        return (final, samples, sent, store, started.id)
    }

    @Test("a nan potential mid-run is stored as NULL with its flag; the run goes on; stored equals sent")
    func nanPackage() async throws {
        let result = try await runCCD(faults: .init(nanPotentialInPackage: 40))
        #expect(result.final.state == "stopped", "\(result.final.reason ?? "")")
        #expect(result.samples.count == result.sent, "sent \(result.sent), stored \(result.samples.count)")
        let flagged = result.samples.filter { $0.sample.flags.contains(.nonFinite) }
        #expect(flagged.count == 1)
        #expect(flagged.first?.seq == 39, "the 40th package")
        #expect(flagged.first.map { $0.sample.voltage_V.isNaN } == true, "stored as NULL, read back as NaN")
        #expect(result.final.flagged_samples?["non-finite"] == 1)
        #expect(result.final.verdicts.contains { $0.criterion == "sample-quality" && $0.action == "warn" })
        #expect(abs((result.final.ccd_mA_cm2 ?? 0) - 0.3) < 0.01, "the CCD is still found")
    }

    @Test("an overload-flagged package mid-run is stored with its flag; the run goes on; stored equals sent")
    func overloadPackage() async throws {
        let result = try await runCCD(faults: .init(overloadStatusInPackage: 40))
        #expect(result.final.state == "stopped", "\(result.final.reason ?? "")")
        #expect(result.samples.count == result.sent)
        let flagged = result.samples.filter { $0.sample.flags.contains(.overload) }
        #expect(flagged.map(\.seq) == [39])
        #expect(result.final.flagged_samples?["overload"] == 1)
        #expect(abs((result.final.ccd_mA_cm2 ?? 0) - 0.3) < 0.01)
    }

    @Test("replaying a MethodSCRIPT run with late samples gives the live verdicts, CCD and step charges")
    func replayOfLateSamplesIsTheLiveRun() async throws {
        let result = try await runCCD(faults: .init())
        let late = result.samples.filter { $0.sample.flags.contains(.late) }
        #expect(!late.isEmpty, "step changes abort scripts whose last packages arrive late")
        let recorded = try #require(try result.store.recordedProtocol(runID: result.runID))
        let driver = try ReplayDriver(
            protocolText: recorded.text, file: recorded.file, parameters: recorded.parameters, area_cm2: 0.196,
            context: RunContext(cell: recorded.cell, conditions: TestConditions()))
        let report = ReplayDriver.replay(result.samples.map(\.sample), engine: driver.engine)
        #expect(report.outcome?.ccd_mA_cm2 == result.final.ccd_mA_cm2)
        #expect(report.outcome?.state.rawValue == result.final.state)
        // The rig's own warnings (an optional guard it cannot feed) are about the rig, not the samples.
        let live = result.final.verdicts.filter { !$0.reason.contains("judges nothing") }
            .map { "\($0.criterion) \($0.action) \($0.time_s)" }
        let replayed = report.verdicts.map {
            "\($0.verdict.criterion) \($0.verdict.action.rawValue) \($0.verdict.time_s)"
        }
        #expect(replayed == live)
        let liveSteps = try result.store.steps(runID: result.runID)
        let replayedSteps = Dictionary(
            report.steps.filter { $0.endTime_s != nil }.map { ($0.step.index, $0) }, uniquingKeysWith: { $1 })
        #expect(liveSteps.count == replayedSteps.count)
        for step in liveSteps {
            let replayedStep = try #require(replayedSteps[step.index], "step \(step.index) ends in the replay")
            #expect(abs(replayedStep.charge_C - step.charge_C) <= 1e-12 * max(1, step.charge_C), "step \(step.index)")
            #expect(replayedStep.endTime_s == step.endTime_s, "step \(step.index)")
        }
    }
}

@Suite("Starting a run: what the rig cannot measure")
struct RunStartValidatorTests {
    let protocolText = """
        schema: 1
        name: guarded
        sampling_interval: 1 s
        steps:
          - rest: {duration: 10 s}
        stop:
          - stack-pressure: {setpoint: 2.5 MPa}
          - temperature: {metal: K, optional: true}
        """

    func serialRigWithoutSensors() throws -> RigDescription {
        try serialRig(id: "bare", driver: "keithley2400", galvanostatPort: "/dev/null")
    }

    @Test("a guard on a quantity the rig does not measure refuses the run, naming the guard and the quantity")
    func blindGuardIsRefused() throws {
        let validator = RunStartValidator(rig: try serialRigWithoutSensors())
        let request = StartRunRequest(protocol_file: "guarded.yaml", protocol_text: protocolText, rig: "bare")
        do {
            _ = try validator.validate(request)
            Issue.record("a stack-pressure guard on a rig without a pressure sensor must be refused")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.contains("guarded.yaml"))
            #expect(error.message.contains("stack-pressure"))
            #expect(error.message.contains("stack pressure"))
            #expect(error.message.contains("optional: true"))
        }
    }

    @Test("an optional guard the rig cannot feed is accepted and reported as judging nothing")
    func optionalGuardIsReported() throws {
        let validator = RunStartValidator(rig: try serialRigWithoutSensors())
        let text = protocolText.replacingOccurrences(
            of: "stack-pressure: {setpoint: 2.5 MPa}", with: "stack-pressure: {setpoint: 2.5 MPa, optional: true}")
        let validated = try validator.validate(
            StartRunRequest(protocol_file: "guarded.yaml", protocol_text: text, rig: "bare"))
        #expect(validated.blindCriteria.map(\.criterion) == ["stack-pressure", "temperature"])
        #expect(validated.blindCriteria.allSatisfy { $0.reason.contains("judges nothing") })
    }

    @Test("the simulated rig measures pressure and temperature, so the guards run as written")
    func simulatedRigSeesEverything() throws {
        let validator = RunStartValidator(rig: try DaemonConfiguration.embeddedSimulatedRig())
        let validated = try validator.validate(
            StartRunRequest(protocol_file: "guarded.yaml", protocol_text: protocolText, rig: "sim"))
        #expect(validated.blindCriteria.isEmpty)
    }

    @Test("`optional` is refused on a criterion that needs nothing beyond current and voltage")
    func optionalOnlyWhereItMeansSomething() throws {
        let text = protocolText + "\n  - voltage-window: {min: -1 V, max: 1 V, optional: true}\n"
        #expect(throws: FileError.self) { try ProtocolFile.parse(text, file: "guarded.yaml") }
    }
}

@Suite("Live followers: events are never dropped")
struct RunHubTests {
    func event(_ index: Int) -> LiveMessage {
        .event(EventInfo(runID: 1, RunEvent(kind: .stepStarted, time_s: Double(index), message: "step \(index)")))
    }

    func progress(_ time_s: Double) -> LiveMessage {
        var position = RunProgress(starting: 1, plan: StepPlan(steps: [], area_cm2: 1))
        position.time_s = time_s
        return .progress(position)
    }

    @Test("a follower that reads late gets every event in order and only the latest progress")
    func slowFollowerLosesOnlyProgress() async {
        let hub = RunHub()
        let stream = hub.subscribe(runID: 1)
        for index in 0..<3000 {
            hub.publish(progress(Double(index)), runID: 1)
            hub.publish(event(index), runID: 1)
        }
        hub.publish(progress(9999), runID: 1)
        hub.publish(.end(RunStatus.placeholder), runID: 1)
        var events: [Double] = []
        var progressTimes: [Double] = []
        var ended = false
        for await message in stream {
            switch message {
            case .event(let info): events.append(info.time_s)
            case .progress(let position): progressTimes.append(position.time_s)
            case .end: ended = true
            case .disconnected: Issue.record("3000 events are within the follower's bound")
            }
        }
        #expect(events == (0..<3000).map(Double.init))
        #expect(ended)
        #expect(progressTimes.count <= 1, "progress is coalesced while events wait")
    }

    @Test("a follower that falls too far behind is disconnected with a message; others are not")
    func farBehindFollowerIsDisconnected() async {
        let hub = RunHub()
        let slow = hub.subscribe(runID: 1)
        let other = hub.subscribe(runID: 2)
        for index in 0...RunHub.maximumPendingEvents { hub.publish(event(index), runID: 1) }
        hub.publish(event(0), runID: 2)
        hub.publish(.end(RunStatus.placeholder), runID: 2)
        var messages: [LiveMessage] = []
        for await message in slow { messages.append(message) }
        #expect(messages.count == 1)
        if case .disconnected(let reason) = messages.first {
            #expect(reason.contains("disconnected"))
        } else {
            Issue.record(
                "the slow follower gets a disconnection message, got \(messages.first.map { "\($0)" } ?? "none")")
        }
        var otherCount = 0
        for await _ in other { otherCount += 1 }
        #expect(otherCount == 2)
    }
}

extension RunStatus {
    static let placeholder = RunStatus(
        id: 1, state: "completed", protocol_name: "p", protocol_file: "p.yaml", protocol_sha256: "", rig: "r",
        cell_label: nil, area_cm2: 1, created_at: "", ended_at: nil, reason: nil, ccd_mA_cm2: nil, samples: 0,
        planned_steps: 0, progress: nil, verdicts: [], truth: nil)
}
