import Domain
import Foundation
import GRDB

/// The cellrig database: one SQLite file in WAL mode, migrated on open, one writer, readers never blocked.
///
/// Tables: `runs` (start record with protocol text and hash, rig, cell, plan, instruments, software version, state,
/// result), `steps`, `samples` (`(run_id, seq)` unique, with quality flags), `events`, `instruments`,
/// `ground_truth`, `impedance`. The schema and its migrations are in `Schema.swift`; writing and reading are in
/// their own files.
public final class RunStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` for writing. With `maximumSize_bytes`, SQLite refuses to
    /// grow the file beyond it (a cap on the disk the database may take), as a full disk would.
    public init(path: String, maximumSize_bytes: Int? = nil) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            if let maximumSize_bytes {
                configuration.prepareDatabase { db in
                    let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                    try db.execute(sql: "PRAGMA max_page_count = \(max(1, maximumSize_bytes / pageSize))")
                }
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Schema.migrator.migrate(pool)
        } catch {
            throw StorageError(
                path: path, cause: StorageError.Cause(error), detail: "cannot open for writing: \(error)")
        }
    }

    /// Opens an existing database read-only (CLI export, replay): never blocks the daemon's writer.
    public init(readOnlyPath path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StorageError(
                path: path, cause: .missing, detail: "no such file; give the daemon's database with --database")
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StorageError(path: path, cause: StorageError.Cause(error), detail: "cannot open read-only: \(error)")
        }
    }

    /// Runs `body` in one write transaction; any failure becomes a ``StorageError`` that names its cause.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(path: path, cause: StorageError.Cause(error), detail: "write failed: \(error)")
        }
    }

    /// Like ``write(_:)``, on the database's own writer queue: the calling task waits without holding a thread.
    func writeInBackground<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(path: path, cause: StorageError.Cause(error), detail: "write failed: \(error)")
        }
    }
}

/// Why the database could not be opened or written: the cause in words first, then the file and SQLite's detail.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as an operator would say it.
    public enum Cause: String, Sendable, Hashable {
        case diskFull = "disk full"
        case readOnly = "database is read-only"
        case ioError = "disk I/O error"
        case constraint = "a row broke a constraint"
        case missing = "no such database"
        case other = "database error"

        /// The cause of a GRDB or SQLite error.
        init(_ error: any Error) {
            guard let databaseError = error as? DatabaseError else {
                self = (error as? StorageError)?.cause ?? .other
                return
            }
            switch databaseError.resultCode {
            case .SQLITE_FULL: self = .diskFull
            case .SQLITE_READONLY: self = .readOnly
            case .SQLITE_IOERR, .SQLITE_CANTOPEN: self = .ioError
            case .SQLITE_CONSTRAINT, .SQLITE_MISMATCH: self = .constraint
            default: self = .other
            }
        }
    }

    public var path: String
    public var cause: Cause
    /// What was being done and what SQLite said.
    public var detail: String

    public init(path: String, cause: Cause = .other, detail: String) {
        self.path = path
        self.cause = cause
        self.detail = detail
    }

    /// Kept for callers that only have a message.
    public init(path: String, message: String) {
        self.init(path: path, cause: .other, detail: message)
    }

    public var message: String { detail }

    public var description: String { "\(cause.rawValue): database \(path): \(detail)" }
}

func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func decodeJSON<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try decoder.decode(type, from: Data(text.utf8))
}

func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
}

func parseTimestamp(_ text: String) -> Date? {
    try? Date(
        text,
        strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
}
