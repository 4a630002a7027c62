import Foundation
import ProtocolFiles

/// Splits a CSV's bytes into lines as they are read, holding one line (and one chunk) at a time, so a file of
/// millions of rows streams in constant memory and a line longer than its limit is refused before it fills memory.
struct CSVLines {
    /// One line without its `\n` (and `\r`), decoded, with its number (from 1) and the offset of its first byte.
    struct Line {
        var text: Substring
        var number: Int
        var offset: Int
    }

    private enum Input {
        case memory
        case file(FileHandle)
    }

    private let input: Input
    private let source: String
    private var buffer: [UInt8]
    /// Start of the current line in `buffer`, and how far it has been searched for `\n`.
    private var lineStart = 0
    private var searched = 0
    private var finished = false
    private var lineNumber = 0
    /// Offset in the file of `buffer[0]`.
    private var bufferOffset = 0
    /// The most bytes held at once while reading a file (for tests of the bound).
    private(set) var largestBufferHeld = 0

    init(bytes: [UInt8], source: String) {
        input = .memory
        self.source = source
        buffer = bytes
        finished = true
    }

    init(fileHandle: FileHandle, source: String) {
        input = .file(fileHandle)
        self.source = source
        buffer = []
    }

    /// The next line, or nil at the end. `limit` is the longest line allowed, given the line's first byte.
    mutating func next(limit: (UInt8?) -> Int) throws(SampleCSVError) -> Line? {
        while true {
            if let newline = buffer[searched...].firstIndex(of: 0x0A) {
                let line = try take(upTo: newline, limit: limit)
                lineStart = newline + 1
                searched = lineStart
                return line
            }
            searched = buffer.count
            let held = buffer.count - lineStart
            try checkLength(held, limit: limit)
            if finished {
                guard lineStart < buffer.count else { return nil }
                let line = try take(upTo: buffer.count, limit: limit)
                lineStart = buffer.count
                searched = lineStart
                return line
            }
            try readChunk()
        }
    }

    private mutating func readChunk() throws(SampleCSVError) {
        guard case .file(let handle) = input else {
            finished = true
            return
        }
        let chunk: Data?
        do {
            chunk = try handle.read(upToCount: SampleCSVReader.readChunkSize)
        } catch {
            throw SampleCSVError(
                source: source, line: lineNumber + 1, column: nil, message: "cannot read: \(error.localizedDescription)"
            )
        }
        guard let chunk, !chunk.isEmpty else {
            finished = true
            return
        }
        // Drop the lines already handed out before growing the buffer.
        if lineStart > 0 {
            buffer.removeSubrange(0..<lineStart)
            bufferOffset += lineStart
            searched -= lineStart
            lineStart = 0
        }
        buffer.append(contentsOf: chunk)
        largestBufferHeld = max(largestBufferHeld, buffer.count)
    }

    private func checkLength(_ length: Int, limit: (UInt8?) -> Int) throws(SampleCSVError) {
        let allowed = limit(lineStart < buffer.count ? buffer[lineStart] : nil)
        guard length > allowed else { return }
        throw SampleCSVError(
            source: source, line: lineNumber + 1, column: nil,
            message: "the line is longer than \(allowed) bytes (it starts at byte offset \(bufferOffset + lineStart)); "
                + "a row of samples is a few hundred bytes, a metadata line at most "
                + "\(SampleCSVReader.maximumMetadataLineLength) bytes",
            byteOffset: bufferOffset + lineStart + allowed)
    }

    private mutating func take(upTo end: Int, limit: (UInt8?) -> Int) throws(SampleCSVError) -> Line {
        try checkLength(end - lineStart, limit: limit)
        lineNumber += 1
        var bytes = buffer[lineStart..<end]
        if bytes.last == 0x0D { bytes = bytes.dropLast() }
        let offset = bufferOffset + lineStart
        if !bytes.allSatisfy({ $0 < 0x80 }), let problem = SourceText.firstInvalidUTF8(in: bytes) {
            let column = SourceText.position(ofOffset: problem.offset, in: bytes).column
            throw SampleCSVError(
                source: source, line: lineNumber, column: nil,
                message: "the line is not valid UTF-8 at character \(column) (\(problem.reason), at byte offset "
                    + "\(offset + problem.offset))",
                byteOffset: offset + problem.offset)
        }
        return Line(text: Substring(String(decoding: bytes, as: UTF8.self)), number: lineNumber, offset: offset)
    }
}
