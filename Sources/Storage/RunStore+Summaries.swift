import Domain
import Foundation
import GRDB

/// One run in a list of runs: what `GET /v1/runs` shows, read without the run's samples or events.
public struct StoredRunSummary: Sendable, Hashable {
    public var id: Int64
    public var state: RunState
    public var protocolName: String
    public var protocolFile: String
    public var rigID: String
    public var cellLabel: String?
    public var createdAt: Date
    public var endedAt: Date?
    public var endReason: String?
    public var ccd_mA_cm2: Double?
    /// Samples stored: the last stored sample's number plus one (an index lookup, not a count).
    public var samples: Int
}

extension RunStore {
    /// Runs older than `before` (all when nil), newest first, at most `limit`. Each costs two index lookups
    /// whatever the number of runs and samples, so a page is as fast with thousands of runs as with ten.
    public func runSummaries(limit: Int, before: Int64? = nil) throws -> [StoredRunSummary] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, state, protocol_name, protocol_file, rig_id, cell_label, created_at, ended_at,
                        end_reason, ccd_mA_cm2,
                        (SELECT MAX(seq) + 1 FROM samples WHERE samples.run_id = runs.id) AS stored_samples
                    FROM runs WHERE id < ? ORDER BY id DESC LIMIT ?
                    """, arguments: [before ?? Int64.max, limit]
            ).map { row in
                let stateText: String = row["state"]
                let createdText: String = row["created_at"]
                let endedText: String? = row["ended_at"]
                return StoredRunSummary(
                    id: row["id"], state: RunState(rawValue: stateText) ?? .faulted,
                    protocolName: row["protocol_name"], protocolFile: row["protocol_file"], rigID: row["rig_id"],
                    cellLabel: row["cell_label"],
                    createdAt: parseTimestamp(createdText) ?? Date(timeIntervalSince1970: 0),
                    endedAt: endedText.flatMap(parseTimestamp), endReason: row["end_reason"],
                    ccd_mA_cm2: row["ccd_mA_cm2"], samples: row["stored_samples"] ?? 0)
            }
        }
    }
}
