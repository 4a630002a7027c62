import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `cellrigd`, killed without warning mid-run and started again, as a power cut or an OOM kill would do.
@Suite("cellrigd killed mid-run and restarted", .serialized)
struct RestartTests {
    /// The built-in physics rig, paced so the seed CCD (64.4 h of cell time) takes a few seconds of wall time.
    static func writePacedRig(into directory: URL, speed: Int) throws -> URL {
        let rigs = directory.appendingPathComponent("rigs")
        try FileManager.default.createDirectory(at: rigs, withIntermediateDirectories: true)
        let text = try TestSupport.readRepositoryFile("rigs/sim.yaml")
            .replacingOccurrences(of: "speed: max", with: "speed: \(speed)")
        try text.write(to: rigs.appendingPathComponent("sim.yaml"), atomically: true, encoding: .utf8)
        return rigs
    }

    /// A daemon process on `directory`'s state.
    struct Daemon {
        let process: Process
        let socket: String

        static func start(directory: URL, rigs: URL) async throws -> Daemon {
            let process = Process()
            process.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrigd")
            process.arguments = ["--state-dir", directory.path, "--rigs", rigs.path, "--log-level", "warning"]
            // The daemon's log goes to a file: an inherited pipe held open by a daemon a failed test left behind
            // would keep the test runner waiting.
            let log = directory.appendingPathComponent("cellrigd.log")
            if !FileManager.default.fileExists(atPath: log.path) {
                try Data().write(to: log)
            }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            let daemon = Daemon(process: process, socket: directory.appendingPathComponent("cellrig.sock").path)
            // A loaded machine (CI shares two cores) can take many seconds to start a process: a wide margin.
            let up = try await TestSupport.eventually(attempts: 2400) {
                (try? await daemon.request("GET", "/v1/health", as: HealthInfo.self)) != nil
            }
            guard up else { throw CancellationError() }
            return daemon
        }

        func request<T: Decodable & Sendable>(_ method: String, _ path: String, as type: T.Type) async throws -> T {
            let socket = socket
            return try await TestSupport.onThread {
                try ControlClient(socketPath: socket).request(method, path, as: type)
            }
        }

        func status(_ runID: Int64) async throws -> RunStatus {
            try await request("GET", "/v1/runs/\(runID)", as: RunStatus.self)
        }

        func kill9() async throws {
            kill(process.processIdentifier, SIGKILL)
            let process = process
            try await TestSupport.onThread { process.waitUntilExit() }
        }
    }

    @Test("SIGKILL at several points of a CCD run: it resumes each time and finds the uninterrupted run's CCD")
    func killAndResume() async throws {
        let directory = try TestSupport.scratchDirectory()
        // Paced so the run takes about 12 s of wall time: the test, slowed down by a loaded machine, still reaches
        // its kill points long before the run ends (from the second one, 7 s of margin and more).
        let rigs = try Self.writePacedRig(into: directory, speed: 20_000)
        var daemon = try await Daemon.start(directory: directory, rigs: rigs)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }
        let protocolText = try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")
        let request = StartRunRequest(
            protocol_file: "protocols/ccd-step-symmetric.yaml", protocol_text: protocolText, rig: "sim")
        let socket = daemon.socket
        let started = try await TestSupport.onThread {
            try ControlClient(socketPath: socket).request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
        let path = directory.appendingPathComponent("cellrig.sqlite").path
        // Kills that found the run active on disk: each one must leave a restart on record. A kill that lands after
        // the run has ended (the status said it was running, and it ended before the signal came) is not one.
        var kills = 0
        for fraction in [0.1, 0.3, 0.55] {
            let reached = try await TestSupport.eventually(attempts: 2400) {
                let status = try await daemon.status(started.id)
                return status.isFinal || (status.progress?.fraction_done ?? 0) >= fraction
            }
            #expect(reached)
            guard try await !daemon.status(started.id).isFinal else { break }
            try await daemon.kill9()
            let stateAtKill = try RunStore(readOnlyPath: path).run(id: started.id)?.state
            if stateAtKill?.isFinal == false { kills += 1 }
            daemon = try await Daemon.start(directory: directory, rigs: rigs)
            let resumed = try await TestSupport.eventually(attempts: 2400) {
                let state = try await daemon.status(started.id).state
                return state == "running" || RunState(rawValue: state)?.isFinal == true && state != "interrupted"
            }
            #expect(
                resumed,
                "the run resumes after the kill at \(fraction) (state on disk: \(String(describing: stateAtKill)))")
        }
        #expect(kills >= 2, "the run was killed at least twice mid-run")
        let ended = try await TestSupport.eventually(attempts: 2400) { try await daemon.status(started.id).isFinal }
        #expect(ended)
        let final = try await daemon.status(started.id)
        #expect(final.state == "stopped", "\(final.reason ?? "")")
        #expect(final.ccd_mA_cm2 == 4.8, "the uninterrupted run finds 4.8 mA/cm2 (DaemonTests.ccdOnPhysicsCell)")
        try await daemon.kill9()

        let store = try RunStore(readOnlyPath: path)
        var expected = 0
        var seqGaps = 0
        var previousTime = -Double.infinity
        var backwards = 0
        try store.forEachSample(runID: started.id) { recorded in
            if recorded.seq != expected { seqGaps += 1 }
            expected = recorded.seq + 1
            if recorded.sample.time_s < previousTime { backwards += 1 }
            previousTime = recorded.sample.time_s
        }
        #expect(seqGaps == 0, "samples are numbered without gaps across restarts")
        #expect(backwards == 0, "cell time never runs backwards across restarts")
        #expect(try store.integrityCheck() == ["ok"])
        let restarts = try store.events(runID: started.id).filter {
            $0.message.hasPrefix("the daemon restarted after the run was interrupted for")
        }
        #expect(restarts.count == kills, "each restart is an event with its wall-time gap: \(restarts.map(\.message))")
        #expect(restarts.allSatisfy { !$0.message.contains("unknown time") }, "\(restarts.map(\.message))")
    }

    @Test("a run whose protocol says on_restart: abort stays interrupted; `cellrig resume` continues it by hand")
    func abortPolicyAndResumeByHand() async throws {
        let directory = try TestSupport.scratchDirectory()
        let rigs = try Self.writePacedRig(into: directory, speed: 5_000)
        var daemon = try await Daemon.start(directory: directory, rigs: rigs)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }
        let protocolText =
            "on_restart: abort\n"
            + (try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml"))
        let request = StartRunRequest(protocol_file: "ccd-abort.yaml", protocol_text: protocolText, rig: "sim")
        let socket = daemon.socket
        let started = try await TestSupport.onThread {
            try ControlClient(socketPath: socket).request("POST", "/v1/runs", body: request, as: RunStatus.self)
        }
        #expect(try await TestSupport.eventually { try await daemon.status(started.id).samples > 100 })
        try await daemon.kill9()
        daemon = try await Daemon.start(directory: directory, rigs: rigs)
        // The socket answers while the daemon is still going through the runs its predecessor left: wait for its
        // decision on this one.
        var interrupted = try await daemon.status(started.id)
        let decided = try await TestSupport.eventually(attempts: 2400) {
            interrupted = try await daemon.status(started.id)
            return interrupted.reason?.contains("not resumed") == true || interrupted.state != "interrupted"
        }
        #expect(decided)
        #expect(interrupted.state == "interrupted")
        #expect(interrupted.reason?.contains("on_restart: abort") == true, "\(interrupted.reason ?? "")")
        let storedBefore = interrupted.samples

        let resumed = try await daemon.request("POST", "/v1/runs/\(started.id)/resume", as: RunStatus.self)
        #expect(resumed.state == "running" || resumed.state == "paused")
        #expect(try await TestSupport.eventually { try await daemon.status(started.id).samples > storedBefore + 100 })
        let events = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
            .events(runID: started.id)
        #expect(events.contains { $0.message.contains("resumed by the operator after the run was interrupted") })
        _ = try await daemon.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        try await daemon.kill9()
    }
}
