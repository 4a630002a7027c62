import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `systemctl reload cellrigd` (SIGHUP) on the real daemon: the rig folder is read again without touching a run.
@Suite("cellrigd reloads its rig folder on SIGHUP", .serialized)
struct ReloadTests {
    private static func rigText(id: String, name: String) throws -> String {
        try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
            .replacingOccurrences(of: "id: sim-ohmic", with: "id: \(id)")
            .replacingOccurrences(of: "name: Simulated ohmic K|K-beta''-alumina|K cell", with: "name: \(name)")
    }

    private static func rigs(_ daemon: RestartTests.Daemon) async throws -> [String: RigInfo] {
        let list = try await daemon.request("GET", "/v1/rigs", as: [RigInfo].self)
        return Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0) })
    }

    private static func hangUp(_ daemon: RestartTests.Daemon) {
        kill(daemon.process.processIdentifier, SIGHUP)
    }

    @Test("a new rig appears, a changed idle rig changes, a broken file changes nothing, the running run goes on")
    func reloadWhileARigRuns() async throws {
        let directory = try TestSupport.scratchDirectory()
        // The physics rig paced so the CCD run lasts minutes of wall time: it is running throughout the test.
        let rigsFolder = try RestartTests.writePacedRig(into: directory, speed: 500)
        try Self.rigText(id: "bench-b", name: "Bench B")
            .write(to: rigsFolder.appendingPathComponent("bench-b.yaml"), atomically: true, encoding: .utf8)
        let daemon = try await RestartTests.Daemon.start(directory: directory, rigs: rigsFolder)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }

        let request = StartRunRequest(
            protocol_file: "protocols/ccd-step-symmetric.yaml",
            protocol_text: try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml"), rig: "sim")
        let socket = daemon.socket
        let started = try await TestSupport.onThread {
            try ControlClient(socketPath: socket).request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
        let sampling = try await TestSupport.eventually {
            ((try? await daemon.status(started.id))?.samples ?? 0) > 0
        }
        #expect(sampling, "the run on the physics rig records samples")

        // A new rig file and a changed idle rig, then SIGHUP.
        try Self.rigText(id: "bench-c", name: "Bench C")
            .write(to: rigsFolder.appendingPathComponent("bench-c.yaml"), atomically: true, encoding: .utf8)
        try Self.rigText(id: "bench-b", name: "Bench B, new clamp")
            .write(to: rigsFolder.appendingPathComponent("bench-b.yaml"), atomically: true, encoding: .utf8)
        Self.hangUp(daemon)
        let reloaded = try await TestSupport.eventually {
            let rigs = (try? await Self.rigs(daemon)) ?? [:]
            return rigs["bench-c"] != nil && rigs["bench-b"]?.name == "Bench B, new clamp"
        }
        #expect(reloaded, "the new rig is listed and the changed idle rig has its new name")
        let afterFirstReload = try await daemon.status(started.id)
        #expect(afterFirstReload.state == "running", "the run on the physics rig is still running")
        #expect(try await Self.rigs(daemon)["sim"]?.run_id == started.id)

        // A broken file: reported, and nothing loaded before changes (bench-c stays, although a file is now broken).
        try "schema: 1\nid: broken\ncell: [unclosed\n"
            .write(to: rigsFolder.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: rigsFolder.appendingPathComponent("bench-c.yaml"))
        Self.hangUp(daemon)
        let logged = try await TestSupport.eventually {
            let log = (try? String(contentsOf: directory.appendingPathComponent("cellrigd.log"), encoding: .utf8)) ?? ""
            return log.contains("broken.yaml")
        }
        #expect(logged, "the log names the broken file")
        let rigsAfterError = try await Self.rigs(daemon)
        #expect(Set(rigsAfterError.keys) == ["sim", "bench-b", "bench-c"], "a reload with an error removes nothing")

        // The run was never touched: no pause, no fault, its samples keep coming with no gap in their numbers.
        let before = try await daemon.status(started.id).samples
        let advancing = try await TestSupport.eventually {
            ((try? await daemon.status(started.id))?.samples ?? 0) > before
        }
        #expect(advancing, "samples keep coming after both reloads")
        let events = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
            .events(runID: started.id)
        #expect(!events.contains { $0.kind == .fault || $0.kind == .operatorCommand }, "no fault, no pause")
        #expect(try await daemon.status(started.id).state == "running")
    }
}
