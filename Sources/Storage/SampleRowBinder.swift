import Domain
import GRDB
import GRDBSQLite

/// Inserts a batch's samples through SQLite's own prepared-statement calls: the write path's hot loop.
///
/// Each row binds its eleven values straight onto the statement and steps it, so no argument array is built, no
/// value is boxed and GRDB's per-execution checks are not repeated for every row (the batch already runs in one
/// write transaction on the writer queue, with no transaction observer). What is stored is what
/// `execute(arguments:)` would store: the same columns, a non-finite reading as NULL, the flags. The first row
/// SQLite refuses throws a ``DatabaseError`` with SQLite's code and message, as GRDB would; the caller then writes
/// the batch again row by row.
enum SampleRowBinder {
    static let sql = """
        INSERT INTO samples (run_id, seq, time_s, current_A, voltage_V, voltage_we_re_V, pressure_MPa,
            temperature_C, cycle, step_index, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func insert(_ samples: [RecordedSample], runID: Int64, db: Database) throws {
        let statement = try db.cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        // Leaves the statement reset and unbound however the loop ends, as GRDB expects of a cached statement.
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        sqlite3_reset(handle)
        for recorded in samples {
            let sample = recorded.sample
            sqlite3_bind_int64(handle, 1, runID)
            sqlite3_bind_int64(handle, 2, Int64(recorded.seq))
            sqlite3_bind_double(handle, 3, sample.time_s)
            bindReading(sample.current_A, handle, 4)
            bindReading(sample.voltage_V, handle, 5)
            bindReading(sample.voltageWERE_V, handle, 6)
            bindReading(sample.pressure_MPa, handle, 7)
            bindReading(sample.temperature_C, handle, 8)
            sqlite3_bind_int64(handle, 9, Int64(recorded.cycle))
            sqlite3_bind_int64(handle, 10, Int64(recorded.stepIndex))
            sqlite3_bind_int64(handle, 11, Int64(sample.flags.rawValue))
            let code = sqlite3_step(handle)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: sql)
            }
            sqlite3_reset(handle)
        }
    }

    /// Binds a reading, or NULL when it is missing or not finite (its sample carries ``SampleFlags/nonFinite``).
    @inline(__always)
    private static func bindReading(_ value: Double?, _ handle: SQLiteStatement, _ index: Int32) {
        if let value, value.isFinite {
            sqlite3_bind_double(handle, index, value)
        } else {
            sqlite3_bind_null(handle, index)
        }
    }
}
