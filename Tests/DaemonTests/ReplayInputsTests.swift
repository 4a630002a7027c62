import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

@testable import Daemon

@Suite("cellrig replay RUN takes the live run's course")
struct ReplayInputsTests {
    @Test("a run its guard paused and an operator resumed replays with the live run's verdicts and resumes")
    func pausedAndResumedByHand() async throws {
        let running = try await RunningDaemon.start(rigs: [try PauseAndReplayTests().rigOffPressure()])
        let started = try await running.startRun(
            "protocols/stripping-3e.yaml", rig: "off-pressure", parameters: ["current_density": "1 mA/cm2"])
        let paused = try await TestSupport.eventually { try await running.status(started.id).state == "paused" }
        #expect(paused)
        let client = running.client
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/resume", as: RunStatus.self)
        }
        // The pressure is still off, so the guard pauses the run again; then the operator ends it.
        let pausedAgain = try await TestSupport.eventually {
            let status = try await running.status(started.id)
            return status.isFinal || status.verdicts.filter { $0.action == "pause" }.count >= 2
        }
        #expect(pausedAgain)
        do {
            _ = try await TestSupport.onThread {
                try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
            }
        } catch ControlClientError.daemon(let status, _) where status == 409 {}
        let final = try await running.waitForEnd(started.id)
        await running.stop()
        let live = final.verdicts.map { "\($0.criterion) \($0.action) \($0.time_s)" }
        #expect(final.verdicts.filter { $0.action == "pause" }.count >= 1)

        let database = running.directory.appendingPathComponent("cellrig.sqlite").path
        let inputs = try RunStore(readOnlyPath: database).inputs(runID: started.id)
        #expect(inputs.contains { $0.kind == .resume }, "the operator's resume is stored as an input")
        let replay = try TestSupport.runProduct(
            "cellrig", ["replay", "\(started.id)", "--database", database, "--json"])
        #expect(replay.status == 0, "\(replay.standardError)")
        struct Line: Decodable {
            var kind: String?
            var criterion: String?
            var action: String?
            var time_s: Double?
            var resumes: Int?
        }
        let lines = replay.standardOutput.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
        }
        let replayed = lines.filter { $0.kind != "summary" && $0.criterion != nil }
        #expect(replayed.map { "\($0.criterion!) \($0.action!) \($0.time_s!)" } == live)
        let summary = try #require(lines.last { $0.kind == "summary" })
        #expect(summary.resumes == inputs.filter { $0.kind == .resume }.count, "resumed where the operator did")
    }
}
