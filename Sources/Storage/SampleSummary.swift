import GRDB

extension RunStore {
    /// The first and last sample time of a run, or nil when it has no samples yet.
    public func sampleTimeRange(runID: Int64) throws -> ClosedRange<Double>? {
        let row = try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT MIN(time_s) AS first, MAX(time_s) AS last FROM samples WHERE run_id = ?",
                arguments: [runID])
        }
        guard let row, let first = row["first"] as Double?, let last = row["last"] as Double? else { return nil }
        return first...max(first, last)
    }
}
