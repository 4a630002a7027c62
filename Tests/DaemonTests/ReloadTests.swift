import Control
import Domain
import Foundation
import TestSupport
import Testing

@testable import Daemon

/// Reloading the rig folder while a rig runs: its description changes only when its run has ended.
@Suite("Rig folder reload")
struct RigReloadTests {
    private static func write(_ rig: String, name: String, to folder: URL) throws {
        let text = try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
            .replacingOccurrences(of: "id: sim-ohmic", with: "id: \(rig)")
            .replacingOccurrences(of: "name: Simulated ohmic K|K-beta''-alumina|K cell", with: "name: \(name)")
            .replacingOccurrences(of: "speed: max", with: "speed: 3600")
        try text.write(to: folder.appendingPathComponent("\(rig).yaml"), atomically: true, encoding: .utf8)
    }

    @Test("a running rig keeps its description until its run ends; a removed idle rig goes at once")
    func changedWhileRunning() async throws {
        let directory = try TestSupport.scratchDirectory()
        let folder = directory.appendingPathComponent("rigs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.write("slow", name: "Slow bench", to: folder)
        try Self.write("spare", name: "Spare bench", to: folder)
        let (rigs, errors) = DaemonConfiguration.loadRigsFileByFile(directory: folder.path)
        #expect(errors.isEmpty)
        let running = try await RunningDaemon.start(rigs: rigs, directory: directory, rigDirectory: folder.path)
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: "slow")

        try Self.write("slow", name: "Slow bench, rebuilt", to: folder)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("spare.yaml"))
        let report = await running.daemon.reload()
        #expect(report.deferred == ["slow"])
        #expect(report.removed == ["spare"])
        #expect(report.errors.isEmpty)
        #expect(await running.daemon.runners["slow"]?.rig.name == "Slow bench", "the running rig keeps its description")
        #expect(running.daemon.runners["spare"] == nil, "an idle removed rig is gone")

        let client = running.client
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        _ = try await running.waitForEnd(started.id)
        let applied = try await TestSupport.eventually {
            await running.daemon.runners["slow"]?.rig.name == "Slow bench, rebuilt"
        }
        #expect(applied, "the new description applies once the run has ended")
        await running.stop()
    }
}
