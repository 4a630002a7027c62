import Control
import Domain
import Foundation
import ProtocolFiles
import Storage
import TestSupport
import Testing

@testable import Daemon

@Suite("Every shipped protocol on its built-in rig")
struct ShippedProtocolRunTests {
    @Test("every built-in rig is its file in rigs/, byte for byte")
    func embeddedRigsMatchTheirFiles() throws {
        for (file, text) in EmbeddedRigs.all {
            #expect(text == (try TestSupport.readRepositoryFile(file)), "\(file)")
        }
        let ids = try DaemonConfiguration.embeddedSimulatedRigs().map(\.id)
        #expect(ids == ["sim", "sim-li-3e", "sim-li-microelectrode", "sim-li-conditioning"])
    }

    /// Polls the run until it ends, or until it pauses (which fails the test and aborts the run: a run waiting on
    /// a guard would never end by itself).
    func waitForEndWithoutPausing(_ running: RunningDaemon, runID: Int64) async throws -> RunStatus {
        let client = running.client
        while true {
            let status = try await TestSupport.onThread {
                try client.request("GET", "/v1/runs/\(runID)", as: RunStatus.self)
            }
            if status.state == "paused" {
                _ = try? await TestSupport.onThread {
                    try client.request("POST", "/v1/runs/\(runID)/abort", as: RunStatus.self)
                }
                return status
            }
            if !["starting", "running"].contains(status.state) { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test("each file in protocols/ completes or stops on a criterion on the rig it names, and never pauses")
    func everyProtocolOnItsRig() async throws {
        let rigs = try DaemonConfiguration.embeddedSimulatedRigs()
        let running = try await RunningDaemon.start(rigs: rigs)
        let store = try RunStore(readOnlyPath: running.directory.appendingPathComponent("cellrig.sqlite").path)
        let names = try FileManager.default.contentsOfDirectory(atPath: TestSupport.repositoryFile("protocols").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 8)
        for name in names {
            let path = "protocols/\(name)"
            let parsed = try ProtocolFile.parse(try TestSupport.readRepositoryFile(path), file: path)
            let rig = try #require(parsed.intendedRig, "\(path) does not name its rig (`rig:`)")
            try #require(
                rigs.contains { $0.id == rig },
                "\(path) is meant for rig '\(rig)', which is not built in: add it to rigs/ and EmbeddedRigs.seedRigs")
            let started = try await running.startRun(path, rig: rig)
            let final = try await waitForEndWithoutPausing(running, runID: started.id)
            let verdicts = try store.events(runID: started.id).compactMap(\.verdict)
            let pauses = verdicts.filter { $0.action == .pause }
            print(
                "\(name) on \(rig): \(final.state), \(final.reason ?? ""), \(final.samples) samples"
                    + (final.ccd_mA_cm2.map { ", CCD \(formatNumber($0)) mA/cm2" } ?? ""))
            #expect(pauses.isEmpty, "\(path) paused: \(pauses.map(\.reason))")
            #expect(
                final.state == "completed" || final.state == "stopped", "\(path): \(final.state) \(final.reason ?? "")")
            if final.state == "stopped" {
                // A stop must come from a failure criterion, not from a guard that says the rig does not fit.
                let criterion = final.verdicts.last { $0.action == "stop" }?.criterion ?? ""
                #expect(
                    ["dendrite-short", "hard-short", "voltage-drop", "voiding"].contains(criterion),
                    "\(path) stopped by '\(criterion)': \(final.reason ?? "")")
            }
        }
        await running.stop()
    }

    @Test("a paused run on a fast simulator records in real time and its share done stands still")
    func pausedRunIsPaced() async throws {
        // The seed-004 plating-step protocol on the K rig (2.5 MPa) pauses on its 7 +/- 1 MPa guard after 60 s.
        let running = try await RunningDaemon.start(rigs: try DaemonConfiguration.embeddedSimulatedRigs())
        let client = running.client
        let started = try await running.startRun("protocols/ccd-plating-step-3e.yaml", rig: "sim")
        var paused: RunStatus?
        for _ in 0..<600 {
            let status = try await TestSupport.onThread {
                try client.request("GET", "/v1/runs/\(started.id)", as: RunStatus.self)
            }
            if status.state == "paused" {
                paused = status
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let first = try #require(paused, "the run never paused on its stack-pressure guard")
        try await Task.sleep(for: .seconds(2))
        let later = try await TestSupport.onThread {
            try client.request("GET", "/v1/runs/\(started.id)", as: RunStatus.self)
        }
        _ = try await TestSupport.onThread {
            try client.request("POST", "/v1/runs/\(started.id)/abort", as: RunStatus.self)
        }
        await running.stop()
        // At the 1 s sampling interval, two wall seconds add a handful of samples (the writer flushes at least every
        // second), never the tens of thousands an unpaced simulator produces.
        #expect(later.samples - first.samples < 200, "\(first.samples) -> \(later.samples)")
        let fraction = try #require(later.progress?.fraction_done)
        #expect(fraction < 0.05, "a run paused in its first step is not '\(fraction * 100) % done'")
    }
}
