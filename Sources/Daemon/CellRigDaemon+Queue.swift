import Control
import ControlServer
import Domain
import Foundation
import Logging
import Storage

/// The queue's part of the control API, answered from the database and the rigs.
extension CellRigDaemon {
    public func queues(rig: String?) async throws -> [RigQueueInfo] {
        if let rig, runners[rig] == nil {
            throw ControlFailure.notFound("no rig '\(rig)'; rigs here: \(runners.ids.joined(separator: ", "))")
        }
        let entries = try store.queueEntries(rigID: rig)
        let records = Dictionary(uniqueKeysWithValues: try store.queueRigs().map { ($0.rigID, $0) })
        // Every configured rig, then rigs no longer configured that still have entries waiting.
        var rigIDs = rig.map { [$0] } ?? runners.ids
        for entry in entries where !rigIDs.contains(entry.rigID) { rigIDs.append(entry.rigID) }
        return rigIDs.map { rigID in
            Self.queueInfo(rigID: rigID, record: records[rigID], entries: entries.filter { $0.rigID == rigID })
        }
    }

    public func enqueue(_ request: QueueAddRequest) async throws -> QueueEntryInfo {
        guard let runner = runners[request.rig] else {
            throw ControlFailure.notFound(
                "no rig '\(request.rig)'; rigs here: \(runners.ids.joined(separator: ", "))")
        }
        var override: QueuePolicy?
        if let then = request.then {
            guard let policy = QueuePolicy(rawValue: then) else {
                throw ControlFailure.badRequest(
                    "then: '\(then)' is not a queue policy; allowed: "
                        + QueuePolicy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            override = policy
        }
        // Checked now against the rig as it is, so a mistake shows while the operator is at the keyboard; checked
        // again when the entry's turn comes.
        let validated = try RunStartValidator(rig: await runner.rig).validate(request.startRequest)
        let settled: Int64
        if let active = await runner.runningRunID {
            settled = active - 1
        } else {
            settled = try store.newestRun(rigID: request.rig)?.id ?? 0
        }
        let id = try store.addQueueEntry(
            NewQueueEntry(
                rigID: request.rig, protocolName: validated.testProtocol.name, protocolFile: request.protocol_file,
                protocolText: request.protocol_text, parameters: request.parameters, cellLabel: request.cell_label,
                area_cm2: request.area_cm2, then: override ?? validated.testProtocol.then),
            settledRunID: settled)
        logger.info("queue of rig '\(request.rig)': entry \(id) added (\(validated.testProtocol.name))")
        await queue.advance(rigID: request.rig)
        guard let entry = try store.queueEntry(id: id) else {
            throw ControlFailure(status: 500, "entry \(id) vanished")
        }
        return Self.entryInfo(entry)
    }

    public func dequeue(entryID: Int64) async throws -> QueueEntryInfo {
        guard let entry = try store.queueEntry(id: entryID) else {
            throw ControlFailure.notFound("no queue entry \(entryID)")
        }
        switch try store.removeQueueEntry(entryID) {
        case .removed:
            logger.info("queue of rig '\(entry.rigID)': entry \(entryID) removed")
            return Self.entryInfo(entry)
        case .notFound:
            throw ControlFailure.notFound("no queue entry \(entryID)")
        case .alreadyStarted(let runID):
            throw ControlFailure.conflict(
                "queue entry \(entryID) already started run \(runID); end that run with `cellrig abort \(runID)`")
        }
    }

    public func releaseQueue(rig: String) async throws -> RigQueueInfo {
        guard runners[rig] != nil else {
            throw ControlFailure.notFound("no rig '\(rig)'; rigs here: \(runners.ids.joined(separator: ", "))")
        }
        guard try store.releaseQueue(rigID: rig) else {
            throw ControlFailure.conflict("the queue of rig '\(rig)' is not held")
        }
        logger.notice("queue of rig '\(rig)' released by the operator")
        await queue.advance(rigID: rig)
        return try await queues(rig: rig).first ?? RigQueueInfo(rig: rig, held: false, entries: [])
    }

    static func queueInfo(rigID: String, record: QueueRigRecord?, entries: [QueueEntryRecord]) -> RigQueueInfo {
        RigQueueInfo(
            rig: rigID, held: record?.isHeld ?? false, hold_reason: record?.holdReason,
            held_by_run: record?.heldByRunID, held_at: record?.heldAt.map(iso8601),
            entries: entries.map(entryInfo))
    }

    static func entryInfo(_ entry: QueueEntryRecord) -> QueueEntryInfo {
        QueueEntryInfo(
            id: entry.id, rig: entry.rigID, protocol_name: entry.protocolName, protocol_file: entry.protocolFile,
            parameters: entry.parameters, cell_label: entry.cellLabel, area_cm2: entry.area_cm2,
            then: entry.then.rawValue, added_at: iso8601(entry.addedAt),
            state: entry.state == .waiting ? "waiting" : "running", run_id: entry.runID)
    }
}
