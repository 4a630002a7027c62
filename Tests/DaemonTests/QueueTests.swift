import Control
import Domain
import Foundation
import Storage
import TestSupport
import Testing

@testable import Daemon

/// Protocols for queue tests, small enough to run in a fraction of a second on the ohmic simulated rig.
enum QueueProtocols {
    /// Two galvanostatic half-cycles well below the rig's CCD: ends `completed`. `minutes` sets their length.
    static func completing(_ name: String, minutes: Int = 2) -> String {
        """
        schema: 1
        name: \(name)
        sampling_interval: 1 s
        steps:
          - plate: {current_density: 0.1 mA/cm2, duration: \(minutes) min}
          - strip: {current_density: 0.1 mA/cm2, duration: \(minutes) min}
        stop:
          - hard-short: {during: both}

        """
    }

    /// A quick CCD staircase (1, 2, 3 ... mA/cm2, 0.2 mAh/cm2 per half-cycle) that the ohmic rig's cell shorts in
    /// at 4.8 mA/cm2: ends `stopped`, with a CCD.
    static func shorting(_ name: String, then: String? = nil) -> String {
        """
        schema: 1
        name: \(name)
        sampling_interval: 1 s
        \(then.map { "then: \($0)" } ?? "")
        steps:
          - loop:
              current: {values: [1 mA/cm2, 2 mA/cm2], increment: 1 mA/cm2, maximum: 10 mA/cm2}
              steps:
                - plate: {capacity: 0.2 mAh/cm2}
                - strip: {capacity: 0.2 mAh/cm2}
        stop:
          - dendrite-short: {during: both}
          - hard-short: {during: both}

        """
    }
}

extension RunningDaemon {
    func enqueue(_ text: String, name: String, rig: String, then: String? = nil) async throws -> QueueEntryInfo {
        let request = QueueAddRequest(
            protocol_file: "\(name).yaml", protocol_text: text, rig: rig, cell_label: "queued-cell", then: then)
        let client = client
        return try await TestSupport.onThread {
            try client.request("POST", "/v1/queue", body: request, as: QueueEntryInfo.self)
        }
    }

    func queue(_ rig: String) async throws -> RigQueueInfo {
        let client = client
        let queues = try await TestSupport.onThread {
            try client.request("GET", "/v1/queue?rig=\(rig)", as: [RigQueueInfo].self)
        }
        return try #require(queues.first)
    }

    /// The runs on `rig`, oldest first.
    func runs(on rig: String) throws -> [StoredRun] {
        try store.runs(limit: 1000).filter { $0.rigID == rig }.reversed()
    }

    /// Waits until `count` runs on `rig` have ended and nothing of its queue is running.
    func waitForRuns(_ count: Int, on rig: String) async throws -> [StoredRun] {
        var runs: [StoredRun] = []
        let done = try await TestSupport.eventually(attempts: 1200) {
            runs = try self.runs(on: rig)
            guard runs.count >= count, runs.allSatisfy({ $0.state.isFinal }) else { return false }
            return await daemon.runners[rig]?.isIdle == true
        }
        #expect(done, "\(count) runs ended on \(rig): \(runs.map { "\($0.id) \($0.state)" })")
        return runs
    }
}

@Suite("Queue per rig", .serialized)
struct QueueTests {
    @Test("three protocols queued on one rig run in order, each when the one before has ended")
    func inOrder() async throws {
        let running = try await RunningDaemon.start(rigs: [try ohmicSimulatedRig()])
        let rig = "sim-ohmic"
        var entries: [QueueEntryInfo] = []
        for name in ["first", "second", "third"] {
            entries.append(try await running.enqueue(QueueProtocols.completing(name), name: name, rig: rig))
        }
        #expect(entries[0].run_id != nil, "the first entry starts at once on the idle rig")
        let runs = try await running.waitForRuns(3, on: rig)
        #expect(runs.map(\.protocolName) == ["first", "second", "third"])
        #expect(runs.allSatisfy { $0.state == .completed }, "\(runs.map(\.state))")
        for (earlier, later) in zip(runs, runs.dropFirst()) {
            let ended = try #require(earlier.endedAt)
            #expect(later.createdAt >= ended, "run \(later.id) started after run \(earlier.id) ended")
        }
        let store = try running.store
        for (entry, run) in zip(entries, runs) {
            #expect(try store.queueEntry(id: entry.id)?.runID == run.id)
        }
        let queue = try await running.queue(rig)
        #expect(queue.entries.isEmpty && !queue.held)
        await running.stop()
    }

    @Test("a short in the second run holds the third until released; then: continue lets it go on")
    func shortHolds() async throws {
        let running = try await RunningDaemon.start(rigs: [try ohmicSimulatedRig()])
        let rig = "sim-ohmic"
        _ = try await running.enqueue(QueueProtocols.completing("before"), name: "before", rig: rig)
        _ = try await running.enqueue(QueueProtocols.shorting("ccd"), name: "ccd", rig: rig)
        let third = try await running.enqueue(QueueProtocols.completing("after"), name: "after", rig: rig)
        let runs = try await running.waitForRuns(2, on: rig)
        #expect(runs.map(\.state) == [.completed, .stopped])
        let held = try await TestSupport.eventually { try await running.queue(rig).held }
        #expect(held)
        let queue = try await running.queue(rig)
        #expect(queue.held_by_run == runs[1].id)
        #expect(queue.hold_reason?.contains("ended stopped") == true, "\(queue.hold_reason ?? "")")
        #expect(queue.entries.map(\.id) == [third.id] && queue.entries.first?.state == "waiting")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try running.runs(on: rig).count == 2, "nothing starts on a held queue")

        let client = running.client
        let released = try await TestSupport.onThread {
            try client.request(
                "POST", "/v1/queue/release", body: QueueReleaseRequest(rig: rig), as: RigQueueInfo.self)
        }
        #expect(!released.held)
        let all = try await running.waitForRuns(3, on: rig)
        #expect(all.map(\.protocolName) == ["before", "ccd", "after"])
        #expect(all[2].state == .completed)

        // The operator's `then: continue` for a CCD test: the EIS-like run after the short goes ahead.
        _ = try await running.enqueue(QueueProtocols.shorting("ccd-2"), name: "ccd-2", rig: rig, then: "continue")
        _ = try await running.enqueue(QueueProtocols.completing("after-2"), name: "after-2", rig: rig)
        let more = try await running.waitForRuns(5, on: rig)
        #expect(more.suffix(2).map(\.state) == [.stopped, .completed])
        #expect(try await running.queue(rig).held == false)
        await running.stop()
    }

    @Test("entries are checked when added, and only waiting ones can be removed")
    func refusals() async throws {
        let running = try await RunningDaemon.start(rigs: [try slowSimulatedRig()])
        let client = running.client
        await #expect(throws: ControlClientError.self) {
            _ = try await running.enqueue("schema: 1\nname: x\nsteps: []\n", name: "broken", rig: "slow")
        }
        await #expect(throws: ControlClientError.self) {
            _ = try await running.enqueue(QueueProtocols.completing("x"), name: "x", rig: "nowhere")
        }
        await #expect(throws: ControlClientError.self) {
            _ = try await running.enqueue(QueueProtocols.completing("x"), name: "x", rig: "slow", then: "maybe")
        }
        let long = try await running.enqueue(QueueProtocols.completing("long", minutes: 600), name: "long", rig: "slow")
        let waiting = try await running.enqueue(QueueProtocols.completing("next"), name: "next", rig: "slow")
        #expect(long.run_id != nil && waiting.run_id == nil)
        await #expect(throws: ControlClientError.self) {
            _ = try await TestSupport.onThread {
                try client.request("DELETE", "/v1/queue/\(long.id)", as: QueueEntryInfo.self)
            }
        }
        let removed = try await TestSupport.onThread {
            try client.request("DELETE", "/v1/queue/\(waiting.id)", as: QueueEntryInfo.self)
        }
        #expect(removed.id == waiting.id)
        #expect(try await running.queue("slow").entries.map(\.id) == [long.id])
        await running.stop()
    }

    @Test("the queue survives a restart: the interrupted run resumes first, then the waiting entries run in order")
    func survivesRestart() async throws {
        let directory = try TestSupport.scratchDirectory()
        let rig = try slowSimulatedRig(speed: 600)
        let first = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let long = try await first.enqueue(QueueProtocols.completing("long", minutes: 20), name: "long", rig: "slow")
        _ = try await first.enqueue(QueueProtocols.completing("second"), name: "second", rig: "slow")
        _ = try await first.enqueue(QueueProtocols.completing("third"), name: "third", rig: "slow")
        let longRun = try #require(long.run_id)
        let going = try await TestSupport.eventually { try await first.status(longRun).samples >= 20 }
        #expect(going)
        await first.stop()
        let store = try first.store
        #expect(try store.run(id: longRun)?.state == .interrupted)
        #expect(try store.runs(limit: 10).count == 1, "the shutdown's interruption starts nothing from the queue")
        #expect(try store.queueEntries(rigID: "slow").filter { $0.state == .waiting }.count == 2)

        let second = try await RunningDaemon.start(rigs: [rig], directory: directory)
        let runs = try await second.waitForRuns(3, on: "slow")
        #expect(runs.map(\.protocolName) == ["long", "second", "third"])
        #expect(runs.map(\.state) == [.completed, .completed, .completed])
        #expect(runs[0].id == longRun, "the interrupted run was resumed, not started again")
        await second.stop()
    }
}
