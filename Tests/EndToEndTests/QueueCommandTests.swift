import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `cellrig queue` against the real `cellrigd`, which is killed mid-queue and started again.
@Suite("cellrig queue with the real daemon", .serialized)
struct QueueCommandTests {
    static func writeOhmicRig(into directory: URL, speed: Int) throws -> URL {
        let rigs = directory.appendingPathComponent("rigs")
        try FileManager.default.createDirectory(at: rigs, withIntermediateDirectories: true)
        let text = try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
            .replacingOccurrences(of: "speed: max", with: "speed: \(speed)")
        try text.write(to: rigs.appendingPathComponent("sim-ohmic.yaml"), atomically: true, encoding: .utf8)
        return rigs
    }

    static func writeProtocol(_ name: String, minutes: Int, into directory: URL) throws -> String {
        let path = directory.appendingPathComponent("\(name).yaml").path
        let text = """
            schema: 1
            name: \(name)
            sampling_interval: 1 s
            steps:
              - plate: {current_density: 0.1 mA/cm2, duration: \(minutes) min}
              - strip: {current_density: 0.1 mA/cm2, duration: \(minutes) min}

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("queued with the CLI, SIGKILLed during the first run: after the restart the queue runs on, in order")
    func killedMidQueue() async throws {
        let directory = try TestSupport.scratchDirectory()
        let rigs = try Self.writeOhmicRig(into: directory, speed: 600)
        var daemon = try await RestartTests.Daemon.start(directory: directory, rigs: rigs)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }
        let socket = daemon.socket
        func cellrig(_ arguments: [String]) throws -> TestSupport.ProcessResult {
            try TestSupport.runProduct("cellrig", arguments + ["--socket", socket])
        }
        var entries: [QueueEntryInfo] = []
        for (name, minutes) in [("long", 20), ("second", 2), ("third", 2)] {
            let path = try Self.writeProtocol(name, minutes: minutes, into: directory)
            let added = try cellrig(["queue", "add", path, "--rig", "sim-ohmic", "--json"])
            #expect(added.status == 0, "\(added.standardError)")
            entries.append(try JSONDecoder().decode(QueueEntryInfo.self, from: Data(added.standardOutput.utf8)))
        }
        let listed = try cellrig(["queue", "list", "--rig", "sim-ohmic", "--json"])
        let queues = try JSONDecoder().decode([RigQueueInfo].self, from: Data(listed.standardOutput.utf8))
        #expect(queues.first?.entries.map(\.id) == entries.map(\.id))
        #expect(queues.first?.entries.map(\.state) == ["running", "waiting", "waiting"])
        let text = try cellrig(["queue", "list"])
        #expect(text.standardOutput.contains("rig sim-ohmic: goes on, 3 entries"), "\(text.standardOutput)")

        let longRun = try #require(entries[0].run_id)
        let going = try await TestSupport.eventually { try await daemon.status(longRun).samples >= 50 }
        #expect(going)
        try await daemon.kill9()
        daemon = try await RestartTests.Daemon.start(directory: directory, rigs: rigs)
        var runs: [StoredRun] = []
        let finished = try await TestSupport.eventually(attempts: 1200) {
            runs = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
                .runs(limit: 10).reversed()
            return runs.count == 3 && runs.allSatisfy { $0.state == .completed }
        }
        #expect(finished, "\(runs.map { "\($0.id) \($0.protocolName) \($0.state)" })")
        #expect(runs.map(\.protocolName) == ["long", "second", "third"])
        #expect(runs.first?.id == longRun, "the killed run was resumed, not started again")
        let empty = try cellrig(["queue", "list", "--rig", "sim-ohmic", "--json"])
        let after = try JSONDecoder().decode([RigQueueInfo].self, from: Data(empty.standardOutput.utf8))
        #expect(after.first?.entries.isEmpty == true && after.first?.held == false)
        let release = try cellrig(["queue", "release", "--rig", "sim-ohmic"])
        #expect(release.status != 0 && release.standardError.contains("not held"), "\(release.standardError)")
    }
}
