import Control
import Domain
import Foundation
import Logging
import Simulation
import Storage
import TestSupport
import Testing
import WireSimulators

@testable import Daemon

/// A restarted daemon reads the cell before it drives it again: a cell that shorted or went away meanwhile is not.
@Suite("Restarts check the cell before continuing", .serialized)
struct RestartCheckTests {
    /// A MethodSCRIPT rig whose port is a link, so a test can put another simulated cell behind it between daemons.
    struct LinkedRig {
        let directory: URL
        let link: String
        var port: SimulatedPort

        static func start(cell: some CellModel, faults: MethodScriptSimulator.Faults = .init()) throws -> LinkedRig {
            let directory = try TestSupport.scratchDirectory()
            let link = directory.appendingPathComponent("methodscript").path
            let port = try SimulatedPort.start(MethodScriptSimulator(cell: cell, speed: .factor(200), faults: faults))
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: port.path)
            return LinkedRig(directory: directory, link: link, port: port)
        }

        /// Swaps the cell behind the link (the old simulator goes away, as a cell swapped while the host was down).
        mutating func replaceCell(with cell: some CellModel, faults: MethodScriptSimulator.Faults = .init())
            async throws
        {
            await port.stop()
            port = try SimulatedPort.start(MethodScriptSimulator(cell: cell, speed: .factor(200), faults: faults))
            try FileManager.default.removeItem(atPath: link)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: port.path)
        }

        func rig() throws -> RigDescription {
            try serialRig(id: "r", driver: "methodscript", galvanostatPort: link, options: "  reply_timeout: 30 s")
        }
    }

    /// Runs the seed CCD on `rig` until it has stored some samples, then shuts the daemon down (an upgrade).
    func runAndShutDown(_ rig: LinkedRig) async throws -> Int64 {
        let running = try await RunningDaemon.start(rigs: [try rig.rig()], directory: rig.directory)
        let started = try await running.startRun(
            text: try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml"), file: "ccd.yaml", rig: "r")
        let going = try await TestSupport.eventually { try await running.status(started.id).samples >= 20 }
        #expect(going)
        await running.stop()
        let store = try running.store
        #expect(try store.run(id: started.id)?.state == .interrupted)
        return started.id
    }

    /// Starts a daemon on the same state and waits until the run is final again or running.
    func restart(_ rig: LinkedRig, runID: Int64) async throws -> (RunningDaemon, RunStatus) {
        let running = try await RunningDaemon.start(rigs: [try rig.rig()], directory: rig.directory)
        var status = try await running.status(runID)
        let settled = try await TestSupport.eventually {
            status = try await running.status(runID)
            return status.state != "interrupted" || status.reason?.contains("not resumed") == true
        }
        #expect(settled, "the run was resumed or refused: \(status.state) \(status.reason ?? "")")
        return (running, status)
    }

    @Test("after a shutdown the run continues where it stood, with its samples numbered on")
    func healthyCellContinues() async throws {
        var rig = try LinkedRig.start(cell: testCell())
        let runID = try await runAndShutDown(rig)
        try await rig.replaceCell(with: testCell())
        let (running, _) = try await restart(rig, runID: runID)
        let more = try await TestSupport.eventually { try await running.status(runID).samples > 40 }
        #expect(more)
        #expect(try await running.status(runID).state == "running")
        await running.stop()
        await rig.port.stop()
    }

    @Test("a daemon that dies while it resumes a run leaves it to the next start, which records its restart at once")
    func deathDuringResumeIsResumedLater() async throws {
        var rig = try LinkedRig.start(cell: testCell())
        let runID = try await runAndShutDown(rig)
        try await rig.replaceCell(with: testCell())
        // A daemon that takes the run on and dies before it runs again (SIGKILL while it reads the samples back):
        // its start has marked the run interrupted, and nothing more.
        let configuration = DaemonConfiguration(
            socketPath: rig.directory.appendingPathComponent("d.sock").path,
            databasePath: rig.directory.appendingPathComponent("cellrig.sqlite").path, rigs: [try rig.rig()])
        let dying = try CellRigDaemon(configuration: configuration, logger: Logger(label: "dying"))
        #expect(dying.interruptedAtStart == [runID])
        let (running, status) = try await restart(rig, runID: runID)
        #expect(status.state == "running" || status.state == "paused", "\(status.state) \(status.reason ?? "")")
        // The restart is on record as soon as the run is active again, before any sample after the gap.
        let restarts = try running.store.events(runID: runID).filter {
            $0.message.hasPrefix("the daemon restarted after the run was interrupted for")
        }
        #expect(restarts.count == 1, "\(restarts.map(\.message))")
        let more = try await TestSupport.eventually { try await running.status(runID).samples > 40 }
        #expect(more)
        await running.stop()
        await rig.port.stop()
    }

    @Test("a cell that shorted while the daemon was away is not driven again")
    func shortedCellIsRefused() async throws {
        var rig = try LinkedRig.start(cell: testCell())
        let runID = try await runAndShutDown(rig)
        let shorted = SimulatedCellConfiguration(
            bulkResistance_Ohm_cm2: 0.001, interfacialResistance_Ohm_cm2: 0.001, noise_V: 1e-6)
        try await rig.replaceCell(
            with: OhmicCell(configuration: shorted, area_cm2: 0.196, stackPressure_MPa: 2.5, temperature_C: 20))
        let (running, _) = try await restart(rig, runID: runID)
        let ended = try await TestSupport.eventually { try await running.status(runID).isFinal }
        let final = try await running.status(runID)
        #expect(ended && final.state == "interrupted")
        #expect(final.reason?.contains("looks shorted") == true, "\(final.reason ?? "")")
        await running.stop()
        await rig.port.stop()
    }

    @Test("a cell whose open-circuit reading is unusable is not driven again")
    func unusableReadingIsRefused() async throws {
        var rig = try LinkedRig.start(cell: testCell())
        let runID = try await runAndShutDown(rig)
        // The lead came off: every reading is `nan`, however many the first batch holds (a loaded host reads several).
        try await rig.replaceCell(with: testCell(), faults: .init(nanPotentialFromPackage: 1))
        let (running, _) = try await restart(rig, runID: runID)
        let ended = try await TestSupport.eventually { try await running.status(runID).isFinal }
        let final = try await running.status(runID)
        #expect(ended && final.state == "interrupted")
        #expect(final.reason?.contains("open-circuit reading") == true, "\(final.reason ?? "")")
        await running.stop()
        await rig.port.stop()
    }
}
