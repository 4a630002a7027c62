import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `make soak`: the real `cellrigd` SIGKILLed at random moments of CCD runs, many times over, and started again
/// each time. Every run must resume after every kill and find the uninterrupted run's CCD, with its samples
/// numbered without a gap and the database intact.
@Suite("cellrigd killed and restarted many times (soak)", .serialized)
struct RestartSoakTests {
    /// How many kills `make soak` asks for (`CELLRIG_SOAK_RESTARTS`); nil outside the soak.
    static var kills: Int? { ProcessInfo.processInfo.environment["CELLRIG_SOAK_RESTARTS"].flatMap { Int($0) } }

    /// What one soak saw, printed at its end.
    struct Counts: CustomStringConvertible {
        var kills = 0
        var resumed = 0
        var runs = 0
        var ccds: [Double?] = []
        var seqGaps = 0
        var restartEvents = 0

        var description: String {
            let found = ccds.map { $0.map { "\($0)" } ?? "none" }.joined(separator: ", ")
            return "soak: \(kills) kills, \(resumed) resumed, \(runs) runs ended (CCD \(found)), "
                + "\(restartEvents) restart events, \(seqGaps) seq gaps"
        }
    }

    @Test(
        "SIGKILL at random moments, many times: every kill is resumed, every run finds 4.8 mA/cm2, no seq gap",
        .enabled(if: RestartSoakTests.kills != nil, "runs in `make soak`"))
    func killOverAndOver() async throws {
        let wanted = try #require(Self.kills)
        let directory = try TestSupport.scratchDirectory()
        let rigs = try RestartTests.writePacedRig(into: directory, speed: 4_000)
        var daemon = try await RestartTests.Daemon.start(directory: directory, rigs: rigs)
        defer { kill(daemon.process.processIdentifier, SIGKILL) }
        let request = StartRunRequest(
            protocol_file: "protocols/ccd-step-symmetric.yaml",
            protocol_text: try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml"), rig: "sim")
        var generator = SystemRandomNumberGenerator()
        var counts = Counts()
        var runIDs: [Int64] = []
        var current: Int64?
        while counts.kills < wanted {
            if current == nil {
                let socket = daemon.socket
                let started = try await TestSupport.onThread {
                    try ControlClient(socketPath: socket).request(
                        "POST", "/v1/runs", body: request, as: RunStatus.self)
                }
                current = started.id
                runIDs.append(started.id)
            }
            let runID = try #require(current)
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...1_500, using: &generator)))
            let status = try await daemon.status(runID)
            if status.isFinal {
                counts.runs += 1
                counts.ccds.append(status.ccd_mA_cm2)
                current = nil
                continue
            }
            try await daemon.kill9()
            counts.kills += 1
            daemon = try await RestartTests.Daemon.start(directory: directory, rigs: rigs)
            let resumed = try await TestSupport.eventually(attempts: 600) {
                let state = try await daemon.status(runID).state
                return state == "running" || state == "stopped" || state == "completed"
            }
            if resumed { counts.resumed += 1 }
        }
        if let runID = current {
            _ = try await TestSupport.eventually(attempts: 6000) { try await daemon.status(runID).isFinal }
            let status = try await daemon.status(runID)
            counts.runs += 1
            counts.ccds.append(status.ccd_mA_cm2)
        }
        try await daemon.kill9()

        let store = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
        for runID in runIDs {
            var expected = 0
            try store.forEachSample(runID: runID) { recorded in
                if recorded.seq != expected { counts.seqGaps += 1 }
                expected = recorded.seq + 1
            }
            counts.restartEvents += try store.events(runID: runID).filter {
                $0.message.hasPrefix("the daemon restarted after the run was interrupted for")
            }.count
        }
        print(counts)
        #expect(counts.resumed == counts.kills, "\(counts)")
        #expect(counts.restartEvents == counts.kills, "\(counts)")
        #expect(counts.ccds.allSatisfy { $0 == 4.8 }, "\(counts)")
        #expect(counts.seqGaps == 0, "\(counts)")
        #expect(try store.integrityCheck() == ["ok"])
    }
}
