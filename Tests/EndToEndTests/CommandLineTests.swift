import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("cellrig offline commands, run as built", .offCooperativePool)
struct OfflineCommandTests {
    @Test("validate accepts every shipped protocol")
    func validateShipped() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: TestSupport.repositoryFile("protocols").path)
            .sorted().map { "protocols/\($0)" }
        let result = try TestSupport.runProduct("cellrig", ["validate"] + files)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardOutput.components(separatedBy: "\n").filter { $0.hasPrefix("ok: ") }.count == files.count)
    }

    @Test("validate rejects a broken file with file, line and key, and exits 1")
    func validateBroken() throws {
        let directory = try TestSupport.scratchDirectory()
        let broken = directory.appendingPathComponent("broken.yaml")
        let text = try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")
            .replacingOccurrences(of: "increment: 0.1 mA/cm2", with: "increment: 0.1 mA")
        try text.write(to: broken, atomically: true, encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("increment: 0.1 mA") }! + 1
        let result = try TestSupport.runProduct("cellrig", ["validate", broken.path])
        #expect(result.status == 1)
        #expect(result.standardError.contains("\(broken.path):\(line):"))
        #expect(result.standardError.contains("steps[0].loop.current.increment"))
        #expect(result.standardError.contains("0.1 mA"))
    }

    @Test("plan --json lists 0.05, 0.1, 0.2 mA/cm2 at 0.5 mAh/cm2 taking 10 h, 5 h, 2.5 h per half-cycle")
    func planJSON() throws {
        let result = try TestSupport.runProduct(
            "cellrig", ["plan", "protocols/ccd-step-symmetric.yaml", "--area-cm2", "0.196", "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        struct Row: Decodable {
            var cycle: Int
            var kind: String
            var current_density_mA_cm2: Double
            var capacity_mAh_cm2: Double
            var duration_s: Double
        }
        let rows = try JSONDecoder().decode([Row].self, from: Data(result.standardOutput.utf8))
        #expect(rows.prefix(6).map(\.kind) == ["plate", "strip", "plate", "strip", "plate", "strip"])
        #expect(rows.prefix(6).map(\.current_density_mA_cm2) == [0.05, 0.05, 0.1, 0.1, 0.2, 0.2])
        #expect(rows.allSatisfy { $0.capacity_mAh_cm2 == 0.5 })
        #expect(rows.prefix(6).map { ($0.duration_s / 3600 * 1e6).rounded() / 1e6 } == [10, 10, 5, 5, 2.5, 2.5])
        #expect(rows[4].cycle == 3)
    }

    @Test("plan rounds a step of 3599.7 s to 1 h and one of 59.9996 s to 1 min, never 59 min 60 s")
    func planRoundsBeforeSplitting() throws {
        let directory = try TestSupport.scratchDirectory()
        let file = directory.appendingPathComponent("almost-an-hour.yaml")
        try """
        schema: 1
        name: almost-an-hour
        sampling_interval: 1 s
        steps:
          - rest:
              duration: 3599.7 s
          - rest:
              duration: 59.9996 s
          - rest:
              duration: 3599.4 s
        stop: []

        """.write(to: file, atomically: true, encoding: .utf8)
        let result = try TestSupport.runProduct("cellrig", ["plan", file.path, "--area-cm2", "0.196"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.components(separatedBy: "\n")
        #expect(lines[2].hasSuffix(" 1 h"), "\(lines[2])")
        #expect(lines[3].hasSuffix(" 1 min"), "\(lines[3])")
        #expect(lines[4].hasSuffix(" 59 min 59 s"), "\(lines[4])")
        #expect(!result.standardOutput.contains("60 s"))
    }

    @Test("plan in text shows hours per half-cycle")
    func planText() throws {
        let result = try TestSupport.runProduct(
            "cellrig", ["plan", "protocols/ccd-step-symmetric.yaml", "--area-cm2", "0.196"])
        let lines = result.standardOutput.components(separatedBy: "\n")
        #expect(lines[2].hasSuffix("10 h"))
        #expect(lines[4].hasSuffix("5 h"))
        #expect(lines[6].hasSuffix("2.5 h"))
    }
}

@Suite("cellrigd as a process")
struct DaemonProcessTests {
    /// A slow simulated rig (3600 cell seconds per wall second) so a run is still going when the test acts.
    func writeSlowRig(into directory: URL) throws -> URL {
        let rigs = directory.appendingPathComponent("rigs")
        try FileManager.default.createDirectory(at: rigs, withIntermediateDirectories: true)
        let text = try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
            .replacingOccurrences(of: "speed: max", with: "speed: 3600")
            .replacingOccurrences(of: "id: sim-ohmic", with: "id: slow")
        try text.write(to: rigs.appendingPathComponent("slow.yaml"), atomically: true, encoding: .utf8)
        return rigs
    }

    @Test("SIGTERM ends the run as interrupted, keeps its samples, and the daemon exits cleanly")
    func sigterm() async throws {
        let directory = try TestSupport.scratchDirectory()
        let rigs = try writeSlowRig(into: directory)
        let daemon = Process()
        daemon.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrigd")
        daemon.arguments = ["--state-dir", directory.path, "--rigs", rigs.path, "--log-level", "warning"]
        try daemon.run()
        let socket = directory.appendingPathComponent("cellrig.sock").path
        let environment = ["CELLRIG_SOCKET": socket]
        let up = try await TestSupport.eventually {
            try await TestSupport.onThread { try TestSupport.runProduct("cellrig", ["rigs"], environment: environment) }
                .status == 0
        }
        #expect(up)

        // The socket answers the curl-style request of the README.
        let rigsAnswer = try await TestSupport.onThread {
            try ControlClient(socketPath: socket).request("GET", "/v1/rigs", as: [RigInfo].self)
        }
        #expect(rigsAnswer.map(\.id) == ["slow"])

        let start = try await TestSupport.onThread {
            try TestSupport.runProduct(
                "cellrig", ["start", "protocols/ccd-step-symmetric.yaml", "--rig", "slow", "--cell", "c1", "--json"],
                environment: environment)
        }
        #expect(start.status == 0, "\(start.standardError)")
        let runID = try JSONDecoder().decode(RunStatus.self, from: Data(start.standardOutput.utf8)).id
        let running = try await TestSupport.eventually {
            let status = try await TestSupport.onThread {
                try TestSupport.runProduct("cellrig", ["status", "\(runID)", "--json"], environment: environment)
            }
            return (try? JSONDecoder().decode(RunStatus.self, from: Data(status.standardOutput.utf8)))?.samples ?? 0 > 5
        }
        #expect(running)

        kill(daemon.processIdentifier, SIGTERM)
        try await TestSupport.onThread { daemon.waitUntilExit() }
        #expect(daemon.terminationStatus == 0)

        let store = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
        let run = try #require(try store.run(id: runID))
        #expect(run.state == .interrupted)
        let stored = try store.sampleCount(runID: runID)
        #expect(stored > 5)

        // export works without the daemon and writes every stored sample.
        let csv = directory.appendingPathComponent("run.csv")
        let export = try TestSupport.runProduct(
            "cellrig",
            [
                "export", "\(runID)", "--csv", csv.path, "--database",
                directory.appendingPathComponent("cellrig.sqlite").path,
            ])
        #expect(export.status == 0, "\(export.standardError)")
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(
            lines.first == "seq,time_s,current_A,voltage_V,voltage_we_re_V,pressure_MPa,temperature_C,cycle,step,flags")
        #expect(lines.count == stored + 1)
    }

    @Test("a bad rig file stops the daemon at start with the file and key")
    func badRigFile() throws {
        let directory = try TestSupport.scratchDirectory()
        let rigs = try writeSlowRig(into: directory)
        let path = rigs.appendingPathComponent("slow.yaml")
        let text = try String(contentsOf: path, encoding: .utf8).replacingOccurrences(
            of: "electrode_area: 0.196 cm2", with: "electrode_area: 0.196")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let result = try TestSupport.runProduct(
            "cellrigd", ["--state-dir", directory.path, "--rigs", rigs.path, "--check"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("\(path.path):"))
        #expect(result.standardError.contains("cell.electrode_area"))
    }
}
