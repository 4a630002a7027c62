import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

@testable import Daemon

/// A database that cannot grow (a full disk, here a size-capped file): the run ends at open circuit, faulted with
/// "disk full" in its reason everywhere, nothing stored is lost, and the daemon keeps answering.
@Suite("A full disk mid-run")
struct DiskFullTests {
    @Test("the run faults with 'disk full' at open circuit, earlier samples intact, the API answers, a restart agrees")
    func diskFullMidRun() async throws {
        let directory = try TestSupport.scratchDirectory()
        let rig = try ohmicSimulatedRig()
        let running = try await RunningDaemon.start(
            rigs: [rig], directory: directory, maximumDatabaseSize_bytes: 2_000_000)
        let started = try await running.startRun("protocols/ccd-step-symmetric.yaml", rig: rig.id)
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "faulted")
        #expect(final.reason?.contains("disk full") == true, "\(final.reason ?? "")")
        #expect(try await running.status(started.id).state == "faulted", "the API reports it, not 'running'")
        let current = await running.daemon.runners[rig.id]?.simulatorFinalCurrents[started.id]
        #expect(current == 0, "the cell is at open circuit")
        let health = try await TestSupport.onThread {
            try running.client.request("GET", "/v1/health", as: HealthInfo.self)
        }
        #expect(health.rigs == 1, "the daemon keeps serving")
        await running.stop()

        let store = try RunStore(readOnlyPath: directory.appendingPathComponent("cellrig.sqlite").path)
        #expect(try store.integrityCheck() == ["ok"])
        var expected = 0
        var gaps = 0
        try store.forEachSample(runID: started.id) { recorded in
            if recorded.seq != expected { gaps += 1 }
            expected = recorded.seq + 1
        }
        #expect(expected > 1000 && gaps == 0, "the samples stored before the disk filled are all there")

        // Room again (no cap): the next daemon records the outcome it could not write.
        let restarted = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let after = try await restarted.status(started.id)
        #expect(after.state == "faulted")
        #expect(after.reason?.contains("disk full") == true, "\(after.reason ?? "")")
        await restarted.stop()
    }
}
