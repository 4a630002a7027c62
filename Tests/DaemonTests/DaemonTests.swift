import Control
import Domain
import Foundation
import Logging
import ProtocolFiles
import Storage
import TestSupport
import Testing

@testable import Daemon

/// A daemon running in this process on a scratch directory, driven through its real Unix socket.
struct RunningDaemon {
    let daemon: CellRigDaemon
    let task: Task<Void, any Error>
    let client: ControlClient
    let directory: URL

    static func start(
        rigs: [RigDescription]? = nil, directory: URL? = nil, maximumDatabaseSize_bytes: Int? = nil
    ) async throws -> RunningDaemon {
        let directory = try directory ?? TestSupport.scratchDirectory()
        var configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path,
            rigs: try rigs ?? [DaemonConfiguration.embeddedSimulatedRig()])
        configuration.maximumDatabaseSize_bytes = maximumDatabaseSize_bytes
        let daemon = try CellRigDaemon(configuration: configuration, logger: Logger(label: "test"))
        let task = Task { try await daemon.run(signals: []) }
        let client = ControlClient(socketPath: configuration.socketPath)
        let up = try await TestSupport.eventually {
            (try? await TestSupport.onThread { try client.request("GET", "/v1/health", as: HealthInfo.self) }) != nil
        }
        #expect(up, "the daemon's socket answers")
        return RunningDaemon(daemon: daemon, task: task, client: client, directory: directory)
    }

    /// Stops the daemon as SIGTERM would (graceful shutdown of the service group) and waits for it.
    func stop() async {
        await daemon.shutdown()
        _ = await task.result
    }

    func startRun(_ protocolPath: String, rig: String = "sim", parameters: [String: String] = [:]) async throws
        -> RunStatus
    {
        let request = StartRunRequest(
            protocol_file: protocolPath, protocol_text: try TestSupport.readRepositoryFile(protocolPath), rig: rig,
            cell_label: "test-cell", parameters: parameters)
        let client = client
        return try await TestSupport.onThread {
            try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
    }

    /// Follows the live stream to the run's end and returns the final status.
    func waitForEnd(_ runID: Int64) async throws -> RunStatus {
        let client = client
        return try await TestSupport.onThread {
            var final: RunStatus?
            try client.stream("/v1/runs/\(runID)/live") { event, data in
                guard event == LiveEventName.end else { return true }
                final = try JSONDecoder().decode(RunStatus.self, from: Data(data.utf8))
                return false
            }
            return try #require(final)
        }
    }

    func status(_ runID: Int64) async throws -> RunStatus {
        let client = client
        return try await TestSupport.onThread { try client.request("GET", "/v1/runs/\(runID)", as: RunStatus.self) }
    }
}

func ohmicSimulatedRig() throws -> RigDescription {
    try DaemonConfiguration.loadRig(
        text: try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml"), file: "rigs/sim-ohmic.yaml")
}

/// The ohmic simulated rig, slowed to `speed` cell seconds per wall second so a run is still going when a test acts.
func slowSimulatedRig(id: String = "slow", speed: Double = 3600) throws -> RigDescription {
    var rig = try ohmicSimulatedRig()
    rig.id = id
    guard case .simulated(var configuration) = rig.galvanostat else { throw CancellationError() }
    configuration.speed = .factor(speed)
    rig.galvanostat = .simulated(configuration)
    return rig
}

@Suite("The daemon")
struct DaemonTests {
    @Test("the built-in rig is rigs/sim.yaml, byte for byte")
    func embeddedRig() throws {
        #expect(EmbeddedRigs.sim == (try TestSupport.readRepositoryFile("rigs/sim.yaml")))
    }

    @Test("the seed CCD protocol runs to the short; every sample the simulator sent is in the database")
    func ccdRun() async throws {
        let running = try await RunningDaemon.start(rigs: [try ohmicSimulatedRig()])
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "sim-ohmic")
        #expect(
            started.protocol_sha256
                == SHA256.hex(try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")))
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "stopped")
        let ccd = try #require(final.ccd_mA_cm2)
        #expect(abs(ccd - 4.8) <= 0.1, "configured critical current density 4.8 mA/cm2, found \(ccd)")
        let truth = try #require(final.truth?.first)
        #expect(truth.kind == "hard-short")
        let stop = try #require(final.verdicts.first { $0.action == "stop" })
        #expect(["dendrite-short", "hard-short"].contains(stop.criterion))
        #expect(final.verdicts.filter { $0.criterion == "voltage-drop" }.allSatisfy { $0.action == "warn" })
        let reaction = try #require(final.reaction_time_ms)
        #expect(reaction >= 0, "the daemon measured its reaction to the stop")
        let onset = try #require(stop.onset_time_s)
        #expect(onset >= truth.time_s - 1 && onset <= truth.time_s + 3)

        let produced = try #require(await running.daemon.runners["sim-ohmic"]?.simulatorSampleCounts[started.id])
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        let stored = try store.sampleCount(runID: started.id)
        #expect(produced > 200_000)
        #expect(stored == produced, "the simulator sent \(produced) samples, the database holds \(stored)")
        #expect(final.samples == produced)
        var previous = -1
        var gaps = 0
        try store.forEachSample(runID: started.id) { sample in
            if sample.seq != previous + 1 { gaps += 1 }
            previous = sample.seq
        }
        #expect(gaps == 0)
        let run = try #require(try store.run(id: started.id))
        #expect(run.cellLabel == "test-cell")
        #expect(try store.instruments(runID: started.id).first?.port == "in-process")
        await running.stop()
    }

    @Test("an abort ends the run at open circuit with all its samples stored")
    func abort() async throws {
        let running = try await RunningDaemon.start(rigs: [try slowSimulatedRig()])
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")
        let gotSamples = try await TestSupport.eventually { try await running.status(started.id).samples > 5 }
        #expect(gotSamples)
        let client = running.client
        let aborted = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        #expect(aborted.state == "aborted")
        let produced = try #require(await running.daemon.runners["slow"]?.simulatorSampleCounts[started.id])
        #expect(aborted.samples == produced)
        await running.stop()
    }

    @Test("a busy rig refuses a second run; a broken protocol is refused with its line")
    func refusals() async throws {
        let running = try await RunningDaemon.start(rigs: [try slowSimulatedRig()])
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")
        await #expect(throws: ControlClientError.self) {
            try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")
        }
        let client = running.client
        let broken = StartRunRequest(
            protocol_file: "broken.yaml", protocol_text: "schema: 1\nname: b\nsteps:\n  - rest: {duration: 5}\n",
            rig: "slow")
        do {
            _ = try await TestSupport.onThread {
                try client.request("POST", "/v1/runs", body: broken, as: RunStatus.self)
            }
            Issue.record("a broken protocol must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 400 || status == 409)
            if status == 400 { #expect(message.contains("broken.yaml:4")) }
        }
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        do {
            _ = try await TestSupport.onThread {
                try client.request("POST", "/v1/runs", body: broken, as: RunStatus.self)
            }
            Issue.record("a broken protocol must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 400)
            #expect(message.contains("broken.yaml:4"))
            #expect(message.contains("duration"))
        }
        await running.stop()
    }

    @Test("shutting down interrupts the run at open circuit with every sample stored; the next daemon resumes it")
    func shutdown() async throws {
        let directory = try TestSupport.scratchDirectory()
        let running = try await RunningDaemon.start(rigs: [try slowSimulatedRig()], directory: directory)
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")
        let gotSamples = try await TestSupport.eventually { try await running.status(started.id).samples > 3 }
        #expect(gotSamples)
        await running.stop()
        let produced = try #require(await running.daemon.runners["slow"]?.simulatorSampleCounts[started.id])
        let store = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
        #expect(try store.run(id: started.id)?.state == .interrupted)
        #expect(try store.sampleCount(runID: started.id) == produced)
        let lastEvent = try #require(try store.events(runID: started.id).last)
        #expect(lastEvent.kind == .runEnded)
        #expect(lastEvent.message.contains("interrupted"))

        // The protocol's on_restart is resume (the default): the next daemon continues the run, numbering on.
        let restarted = try await RunningDaemon.start(rigs: [try slowSimulatedRig()], directory: directory)
        let resumed = try await TestSupport.eventually {
            let status = try await restarted.status(started.id)
            return status.state == "running" && status.samples > produced
        }
        #expect(resumed, "the run continues after the restart")
        await restarted.stop()
    }
}
