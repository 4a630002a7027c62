import Domain
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where a run's outcome goes when the database cannot take it (a full disk, a read-only file), so the next daemon
/// records it: a small file beside the database, filled when it is created, and then only overwritten in place.
///
/// Overwriting blocks a file already holds needs no free space, so a full disk can still take an outcome here.
/// Entries are JSON lines; the file's unused part is spaces. The daemon applies the entries when it starts, then
/// blanks the file.
public final class OutcomeJournal: Sendable {
    /// A run's outcome that the database did not take.
    public struct Entry: Sendable, Hashable, Codable {
        public var runID: Int64
        public var outcome: RunOutcome
        public var discardedReadings: Int

        public init(runID: Int64, outcome: RunOutcome, discardedReadings: Int) {
            self.runID = runID
            self.outcome = outcome
            self.discardedReadings = discardedReadings
        }
    }

    /// The journal's fixed size: room for a few hundred outcomes.
    public static let size = 256 * 1024

    public let path: String
    private let lock = Mutex(())

    /// Opens the journal beside `databasePath` (`<database>.outcomes`), creating and filling it if needed.
    public init(databasePath: String) throws {
        path = databasePath + ".outcomes"
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if (attributes?[.size] as? Int) != Self.size {
            try Data(repeating: UInt8(ascii: " "), count: Self.size).write(to: URL(fileURLWithPath: path))
        }
    }

    /// The outcomes waiting to be recorded.
    public func entries() throws -> [Entry] {
        let data = try lock.withLock { _ in try Data(contentsOf: URL(fileURLWithPath: path)) }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let trimmed = line.drop { $0 == UInt8(ascii: " ") }
            guard !trimmed.isEmpty else { return nil }
            return try? JSONDecoder().decode(Entry.self, from: Data(trimmed))
        }
    }

    /// Adds an outcome in place, after the entries already there. Throws when the journal is full.
    public func append(_ entry: Entry) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var line = try encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        try lock.withLock { _ in
            let existing = try Data(contentsOf: URL(fileURLWithPath: path))
            let used = (existing.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            guard used + line.count <= Self.size else {
                throw StorageError(path: path, cause: .diskFull, detail: "the outcome journal is full")
            }
            try overwrite(at: used, with: line)
        }
    }

    /// Blanks the journal once its entries are recorded.
    public func clear() throws {
        try lock.withLock { _ in try overwrite(at: 0, with: Data(repeating: UInt8(ascii: " "), count: Self.size)) }
    }

    private func overwrite(at offset: Int, with data: Data) throws {
        let descriptor = open(path, O_WRONLY)
        guard descriptor >= 0 else {
            throw StorageError(path: path, cause: .ioError, detail: "cannot open the outcome journal: errno \(errno)")
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, data.count, off_t(offset)) }
        guard written == data.count else {
            throw StorageError(path: path, cause: .ioError, detail: "cannot write the outcome journal: errno \(errno)")
        }
        fsync(descriptor)
    }
}
