import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

@testable import Daemon

@Suite("Pauses, resumes and replays through the daemon")
struct PauseAndReplayTests {
    /// The physics rig with its stack pressure off the protocol's setpoint, slowed so a test can act on it.
    func rigOffPressure() throws -> RigDescription {
        var rig = try DaemonConfiguration.embeddedSimulatedRig()
        rig.id = "off-pressure"
        rig.cell.stackPressure_MPa = 4
        guard case .simulated(var configuration) = rig.galvanostat else { throw CancellationError() }
        configuration.speed = .factor(36000)
        rig.galvanostat = .simulated(configuration)
        return rig
    }

    @Test("the stack-pressure guard pauses at open circuit; resume re-applies the step; samples keep coming")
    func pauseAndResume() async throws {
        let running = try await RunningDaemon.start(rigs: [try rigOffPressure()])
        let started = try await running.startRun(
            "protocols/stripping-3e.yaml", rig: "off-pressure", parameters: ["current_density": "1 mA/cm2"])
        let paused = try await TestSupport.eventually { try await running.status(started.id).state == "paused" }
        #expect(paused, "4 MPa against the protocol's 2.5 +/- 0.5 MPa for over 60 s pauses the run")
        let atPause = try await running.status(started.id)
        #expect(atPause.verdicts.contains { $0.criterion == "stack-pressure" && $0.action == "pause" })
        #expect(atPause.progress?.current_A == 0, "the cell is at open circuit while paused")
        let moreSamples = try await TestSupport.eventually {
            try await running.status(started.id).samples > atPause.samples + 10
        }
        #expect(moreSamples, "samples are still recorded while paused")

        let client = running.client
        let resumed = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/resume", as: RunStatus.self)
        }
        #expect(resumed.state == "running" || resumed.state == "paused")
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        #expect(try store.events(runID: started.id).contains { $0.kind == .operatorCommand })

        // At 36000 times real time the resumed run may reach its end before the abort arrives on a loaded machine;
        // either way it must not be left running or paused.
        do {
            let aborted = try await TestSupport.onThread {
                try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
            }
            #expect(aborted.state == "aborted")
        } catch ControlClientError.daemon(let status, _) where status == 409 {
            #expect(try await running.status(started.id).state == "completed")
        }
        await running.stop()
    }

    @Test("resuming a run that is not paused is refused")
    func resumeNotPaused() async throws {
        let running = try await RunningDaemon.start(rigs: [try slowSimulatedRig()])
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")
        let client = running.client
        do {
            _ = try await TestSupport.onThread {
                try client.request("POST", "/v1/runs/\(started.id)/resume", as: RunStatus.self)
            }
            Issue.record("resume of a running run must be refused")
        } catch ControlClientError.daemon(let status, let message) {
            #expect(status == 409)
            #expect(message.contains("not paused"))
        }
        await running.stop()
    }

    @Test("replaying an exported run gives the same verdicts as the live run")
    func replayMatchesLive() async throws {
        let running = try await RunningDaemon.start()
        let started = try await running.startRun(
            "protocols/stripping-3e.yaml", parameters: ["current_density": "3 mA/cm2"])
        let final = try await running.waitForEnd(started.id)
        await running.stop()
        #expect(final.results?.voiding.first?.voided == true, "3 mA/cm2 voids on the K preset")
        let live = final.verdicts.map { "\($0.criterion) \($0.action) \($0.time_s)" }
        #expect(!live.isEmpty)

        let database = running.directory.appendingPathComponent("cellrig.sqlite").path
        let csv = running.directory.appendingPathComponent("run.csv").path
        let export = try TestSupport.runProduct(
            "cellrig", ["export", "\(started.id)", "--csv", csv, "--database", database])
        #expect(export.status == 0, "\(export.standardError)")
        let replay = try TestSupport.runProduct(
            "cellrig",
            [
                "replay", csv, "--protocol", "protocols/stripping-3e.yaml", "--area-cm2", "0.196", "--json", "--set",
                "current_density=3 mA/cm2", "--metal", "K",
            ])
        #expect(replay.status == 0, "\(replay.standardError)")
        struct Line: Decodable {
            var kind: String?
            var criterion: String?
            var action: String?
            var time_s: Double?
        }
        let replayed = replay.standardOutput.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
        }.filter { $0.kind != "summary" && $0.criterion != nil }
        #expect(replayed.map { "\($0.criterion!) \($0.action!) \($0.time_s!)" } == live)

        // A stored run replays the protocol, parameters and cell it recorded, with no options.
        let byID = try TestSupport.runProduct(
            "cellrig", ["replay", "\(started.id)", "--database", database, "--json"])
        #expect(byID.status == 0, "\(byID.standardError)")
        let replayedByID = byID.standardOutput.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
        }.filter { $0.kind != "summary" && $0.criterion != nil }
        #expect(replayedByID.map { "\($0.criterion!) \($0.action!) \($0.time_s!)" } == live)
    }
}
