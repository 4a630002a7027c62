import Control
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The rigs these tests run on: the built-in simulated K cell, and the ohmic cell slowed to 3600 cell seconds per
/// wall second so a run is still going when a test acts on it.
func simAndSlowRigs() throws -> [String: String] {
    [
        "sim.yaml": try TestSupport.readRepositoryFile("rigs/sim.yaml"),
        "slow.yaml": try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
            .replacingOccurrences(of: "speed: max", with: "speed: 3600")
            .replacingOccurrences(of: "id: sim-ohmic", with: "id: slow"),
    ]
}

/// The tests that run `cellrig` against a daemon of their own, one at a time: each starts a daemon and runs cells
/// at full speed, and together they would crowd the two cores the suite shares.
@Suite("cellrig against a running cellrigd", .serialized, .offCooperativePool)
struct DaemonCLITests {}

extension DaemonProcess {
    /// Starts a protocol through `cellrig start --json` and returns the run's id.
    func startRun(_ arguments: [String]) throws -> Int64 {
        let result = try cellrig(["start"] + arguments + ["--json"])
        try #require(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode(RunStatus.self, from: Data(result.standardOutput.utf8)).id
    }
}

extension DaemonCLITests {
    @Suite("cellrig watch and status: exit codes that say how the run ended, through the real CLI")
    struct RunExitCodeTests {
        @Test("completed 0, stopped 2, aborted 3 for watch and status; status of a run still going 6; --help says so")
        func exitCodes() throws {
            let daemon = try DaemonProcess.start(rigFiles: try simAndSlowRigs())
            defer { daemon.stop() }

            let completed = try daemon.startRun(["protocols/eis-potentiostatic.yaml", "--rig", "sim"])
            let watchCompleted = try daemon.cellrig(["watch", "\(completed)", "--every", "1000"])
            #expect(watchCompleted.status == 0, "\(watchCompleted.standardOutput)\(watchCompleted.standardError)")
            #expect(watchCompleted.standardOutput.contains("run \(completed): completed"))
            #expect(try daemon.cellrig(["status", "\(completed)"]).status == 0)

            let stopped = try daemon.startRun([
                try TestSupport.writeQuickCCDProtocol(into: daemon.directory), "--rig", "sim",
            ])
            let watchStopped = try daemon.cellrig(["watch", "\(stopped)", "--every", "1000"])
            #expect(watchStopped.status == 2, "\(watchStopped.standardError)")
            let statusStopped = try daemon.cellrig(["status", "\(stopped)"])
            #expect(statusStopped.status == 2)
            // One line per warning kind, with its meaning from the criterion catalogue.
            let warnings = statusStopped.standardOutput.split(separator: "\n").filter {
                $0.contains("voltage-drop:") && $0.contains("warnings")
            }
            #expect(warnings.count == 1, "\(statusStopped.standardOutput)")
            #expect(
                warnings.first?.contains(
                    "warnings (the seed-004 2 mV rule for a dendrite short, recorded for comparison; it does not stop "
                        + "this protocol), the first at ") == true, "\(warnings)")
            #expect(!statusStopped.standardOutput.contains("voltage-drop x"))
            #expect(
                watchStopped.standardOutput.contains(String(warnings.first ?? "-")), "watch ends with the same line")

            let aborted = try daemon.startRun(["protocols/ccd-step-symmetric.yaml", "--rig", "slow"])
            let running = try daemon.cellrig(["status", "\(aborted)", "--json"])
            #expect(running.status == 6, "a run still going: \(running.standardOutput)")
            #expect(try JSONDecoder().decode(RunStatus.self, from: Data(running.standardOutput.utf8)).id == aborted)
            let abort = try daemon.cellrig(["abort", "\(aborted)"])
            #expect(abort.status == 0, "\(abort.standardError)")
            #expect(try daemon.cellrig(["watch", "\(aborted)"]).status == 3)
            #expect(try daemon.cellrig(["status", "\(aborted)"]).status == 3)
            #expect(try daemon.cellrig(["status", "999"]).status == 1, "no such run: the command failed")

            for verb in ["watch", "status"] {
                let help = try TestSupport.runProduct("cellrig", [verb, "--help"]).standardOutput
                    .replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
                for phrase in ["0 completed", "2 stopped", "3 aborted", "4 interrupted", "5 faulted"] {
                    #expect(help.contains(phrase), "\(verb) --help: \(phrase)")
                }
            }
        }
    }
}

extension DaemonCLITests {
    @Suite("cellrig --json on every verb: what is on standard output is JSON, also when the command fails")
    struct JSONOutputTests {
        /// Parses standard output as one JSON document, or as JSON lines when `lines`.
        func expectJSON(_ result: TestSupport.ProcessResult, lines: Bool = false, _ what: String) {
            let output = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!output.isEmpty, "\(what) printed nothing: \(result.standardError)")
            let documents = lines ? output.split(separator: "\n").map(String.init) : [output]
            for document in documents {
                #expect(
                    (try? JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])) != nil,
                    "\(what): not JSON: \(document.prefix(200))")
            }
        }

        @Test("offline verbs: validate, plan, criteria, ports, replay, fit, export, report")
        func offline() throws {
            let daemon = try DaemonProcess.start()
            defer { daemon.stop() }
            let ccd = try daemon.startRun([
                try TestSupport.writeQuickCCDProtocol(into: daemon.directory), "--rig", "sim",
            ])
            _ = try daemon.cellrig(["watch", "\(ccd)"])
            let eis = try daemon.startRun(["protocols/eis-potentiostatic.yaml", "--rig", "sim"])
            _ = try daemon.cellrig(["watch", "\(eis)"])
            let directory = daemon.directory
            let database = ["--database", daemon.databasePath]
            let protocols = try FileManager.default.contentsOfDirectory(
                atPath: TestSupport.repositoryFile("protocols").path
            ).map { "protocols/\($0)" }

            expectJSON(try daemon.cellrig(["validate", "--json"] + protocols), "validate")
            let broken = directory.appendingPathComponent("broken.yaml")
            try "schema: 1\nname: x\nsteps: 3\n".write(to: broken, atomically: true, encoding: .utf8)
            let invalid = try daemon.cellrig(["validate", "--json", broken.path])
            #expect(invalid.status == 1)
            expectJSON(invalid, "validate of a broken file")
            expectJSON(
                try daemon.cellrig(["plan", "protocols/ccd-step-symmetric.yaml", "--area-cm2", "0.196", "--json"]),
                "plan")
            expectJSON(try daemon.cellrig(["criteria", "--json"]), "criteria")
            expectJSON(try daemon.cellrig(["ports", "--json"]), "ports")
            expectJSON(try daemon.cellrig(["replay", "\(ccd)", "--json"] + database), lines: true, "replay")
            expectJSON(try daemon.cellrig(["fit", "\(eis)", "--json"] + database), "fit")
            let csv = directory.appendingPathComponent("run.csv").path
            let export = try daemon.cellrig(["export", "\(eis)", "--csv", csv, "--json"] + database)
            expectJSON(export, "export")
            #expect(export.standardOutput.contains(#""rows" : 70"#) || export.standardOutput.contains(#""rows":70"#))
            let page = directory.appendingPathComponent("run.html").path
            expectJSON(try daemon.cellrig(["report", "\(eis)", "-o", page, "--json"] + database), "report")
            let refused = try daemon.cellrig(["report", "\(eis)", "-o", "-", "--json"] + database)
            #expect(refused.status == 64, "--json and a page on standard output do not mix")
            expectJSON(refused, "report refusing -o - with --json")
        }

        @Test("daemon verbs: rigs, start, status, runs, watch (JSON lines), abort, resume, open; failures too")
        func daemonVerbs() throws {
            let daemon = try DaemonProcess.start(rigFiles: try simAndSlowRigs())
            defer { daemon.stop() }
            expectJSON(try daemon.cellrig(["rigs", "--json"]), "rigs")
            let start = try daemon.cellrig(["start", "protocols/ccd-step-symmetric.yaml", "--rig", "slow", "--json"])
            expectJSON(start, "start")
            let runID = try JSONDecoder().decode(RunStatus.self, from: Data(start.standardOutput.utf8)).id
            expectJSON(try daemon.cellrig(["status", "\(runID)", "--json"]), "status")
            expectJSON(try daemon.cellrig(["status", "--json"]), "status of all runs")
            let resume = try daemon.cellrig(["resume", "\(runID)", "--json"])
            #expect(resume.status == 1, "the run is not paused")
            expectJSON(resume, "resume refused")
            #expect(resume.standardOutput.contains(#""error""#))
            expectJSON(try daemon.cellrig(["abort", "\(runID)", "--json"]), "abort")
            let watch = try daemon.cellrig(["watch", "\(runID)", "--json"])
            #expect(watch.status == 3)
            expectJSON(watch, lines: true, "watch")
            let last = try #require(watch.standardOutput.split(separator: "\n").last)
            struct End: Decodable { var end: RunStatus }
            #expect(try JSONDecoder().decode(End.self, from: Data(last.utf8)).end.state == "aborted")

            // Six cell hours on the rig slowed to 3600 cell seconds per wall second: about 6 s of wall time, so the
            // run is still going when watch attaches however loaded the machine (a full-speed CCD run could end
            // first, and watch then prints only its end).
            let hours = daemon.directory.appendingPathComponent("hours.yaml")
            try """
            schema: 1
            name: six-hours
            sampling_interval: 60 s
            steps:
              - rest: {duration: 2 h}
              - plate: {current: 20 uA, duration: 2 h}
              - rest: {duration: 2 h}

            """.write(to: hours, atomically: true, encoding: .utf8)
            let stopped = try daemon.startRun([hours.path, "--rig", "slow"])
            let live = try daemon.cellrig(["watch", "\(stopped)", "--json", "--every", "0"])
            expectJSON(live, lines: true, "watch of a live run")
            #expect(live.standardOutput.contains(#"{"event":{"#) && live.standardOutput.contains(#"{"end":{"#))

            let open = try daemon.cellrig(["open", "\(runID)", "--json", "--for", "1s", "--no-browser"])
            #expect(open.status == 0)
            expectJSON(open, lines: true, "open")
            let missing = try daemon.cellrig(["status", "999", "--json"])
            #expect(missing.status == 1)
            expectJSON(missing, "status of a missing run")
            let unreachable = try TestSupport.runProduct(
                "cellrig", ["rigs", "--json"], environment: ["CELLRIG_SOCKET": "/tmp/cellrig-no-such-daemon.sock"])
            #expect(unreachable.status == 1)
            expectJSON(unreachable, "rigs without a daemon")
        }
    }
}
