import Foundation

/// The bounds every protocol and rig file must keep, so that reading any file, however malformed, takes bounded time
/// and memory. Each is far above what a real file needs; docs/protocol-files.md lists them.
public enum FileLimits {
    /// Largest file accepted, in bytes (256 KiB): the shipped protocols are 1-3 KiB, and a protocol must also fit
    /// in one request to the daemon, whose bodies are limited to 1 MiB.
    public static let maximumFileSize = 256 * 1024
    /// Deepest nesting of lists and mappings (a loop's inner step is 7 levels deep).
    public static let maximumNestingDepth = 16
    /// Most values (scalars, lists, mappings) a document may hold, counting every repetition an alias makes.
    public static let maximumValueCount = 100_000
}

/// Protocol and rig files as bytes: read within a size limit, and decoded as UTF-8 with a check that names the first
/// bad byte's line, column and offset instead of a generic "not in the correct format".
public enum SourceText {
    /// Reads the file at `path` as UTF-8 text. Reads at most `limit + 1` bytes, so a huge file costs no more than a
    /// file at the limit, and refuses a file beyond `limit`, naming where it passes the limit.
    public static func read(path: String, limit: Int = FileLimits.maximumFileSize) throws(FileError) -> String {
        let bytes: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            bytes = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw FileError(file: path, problem: "cannot read: \(error.localizedDescription)")
        }
        return try decode(bytes, file: path, limit: limit)
    }

    /// Throws when `bytes` hold more than `limit` bytes, with the line and column of the first byte beyond it.
    static func checkSize(of bytes: some Collection<UInt8>, file: String, limit: Int) throws(FileError) {
        guard bytes.count > limit else { return }
        let (line, column) = position(ofOffset: limit, in: bytes)
        throw FileError(
            file: file, line: line, column: column,
            problem: "the file is longer than \(limit) bytes (\(limit / 1024) KiB), the most a protocol or rig file "
                + "may hold; the limit is passed here",
            allowed: "at most \(limit) bytes")
    }

    /// Decodes `bytes` as UTF-8, or throws naming the first byte that is not valid UTF-8: its line, column, byte
    /// offset and what is wrong with it. Bytes beyond `limit` are refused first, before any is decoded.
    public static func decode(
        _ bytes: some Collection<UInt8>, file: String, limit: Int = FileLimits.maximumFileSize
    ) throws(FileError) -> String {
        try checkSize(of: bytes, file: file, limit: limit)
        if let problem = firstInvalidUTF8(in: bytes) {
            let (line, column) = position(ofOffset: problem.offset, in: bytes)
            throw FileError(
                file: file, line: line, column: column,
                problem: "the file is not valid UTF-8 (\(problem.reason), at byte offset \(problem.offset))",
                allowed: "UTF-8 text; save the file as UTF-8")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The line and column (from 1; columns count characters) of the byte at `offset`.
    public static func position(ofOffset offset: Int, in bytes: some Collection<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                // Continuation bytes belong to the character their leading byte began.
                column += 1
            }
        }
        return (line, column)
    }

    /// The first byte at which `bytes` stop being valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
    /// above U+10FFFF), with the reason, or nil when all of it is valid.
    public static func firstInvalidUTF8(in bytes: some Collection<UInt8>) -> (offset: Int, reason: String)? {
        var iterator = bytes.makeIterator()
        var offset = 0
        func hex(_ byte: UInt8) -> String { "0x" + String(byte, radix: 16, uppercase: true) }
        while let lead = iterator.next() {
            let start = offset
            offset += 1
            if lead < 0x80 { continue }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                secondRange = 0xA0...0xBF
            case 0xED:
                length = 3
                secondRange = 0x80...0x9F
            case 0xE1...0xEF: length = 3
            case 0xF0:
                length = 4
                secondRange = 0x90...0xBF
            case 0xF4:
                length = 4
                secondRange = 0x80...0x8F
            case 0xF1...0xF3: length = 4
            case 0x80...0xBF: return (start, "byte \(hex(lead)) is a continuation byte without a leading byte")
            default: return (start, "byte \(hex(lead)) never appears in UTF-8")
            }
            for index in 1..<length {
                guard let next = iterator.next() else {
                    return (start, "byte \(hex(lead)) begins a character the file ends in the middle of")
                }
                offset += 1
                let allowed = index == 1 ? secondRange : 0x80...0xBF
                guard allowed.contains(next) else {
                    let what =
                        index == 1 && (0x80...0xBF).contains(next)
                        ? "begins an overlong form, a surrogate or a code point above U+10FFFF"
                        : "is not followed by a continuation byte"
                    return (start, "byte \(hex(lead)) \(what) (next byte \(hex(next)))")
                }
            }
        }
        return nil
    }
}
