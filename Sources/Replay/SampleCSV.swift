import Domain
import Foundation

/// Why a sample CSV cannot be read: the line (1 is the header), the column and what was wrong.
public struct SampleCSVError: Error, Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var column: String?
    public var message: String
    /// The offset in the file of the byte at fault, for errors about bytes (invalid UTF-8, a line beyond its limit).
    public var byteOffset: Int? = nil

    public var description: String {
        let columnText = column.map { ", column '\($0)'" } ?? ""
        return "\(source): line \(line)\(columnText): \(message)"
    }
}

/// A sample CSV as read: its metadata block (empty when the file has none) and its samples.
public struct SampleCSVFile: Sendable {
    public var metadata: CSVMetadata
    public var samples: [InstrumentSample]

    /// Reads what is left of `stream`.
    public init(stream: SampleCSVStream) throws(SampleCSVError) {
        var stream = stream
        metadata = stream.metadata
        samples = try stream.remainingSamples()
    }
}

/// Reads samples from CSV text whose header names its columns.
///
/// `time_s`, `current_A` and `voltage_V` are required; `voltage_we_re_V`, `pressure_MPa` and `temperature_C` are
/// optional (an empty field is a missing reading); `flags` holds sample flag names joined by `|` (see
/// ``SampleFlags/named``; empty for none). Columns may come in any order and others are ignored, so the output of
/// `cellrig export --csv` reads as is. Lines starting with `#` before the header are the metadata block
/// (``CSVMetadata``). Numbers must be finite (a sample flagged `non-finite` may leave its current and voltages
/// empty), every row must have the header's number of fields, and time must not go backwards (except for samples
/// flagged `late`, which arrived after later ones).
public struct SampleCSVReader: Sendable {
    public static let requiredColumns = ["time_s", "current_A", "voltage_V"]
    public static let optionalColumns = ["voltage_we_re_V", "pressure_MPa", "temperature_C", "flags"]

    /// File name used in errors.
    public let source: String
    private let header: [String]
    private let positions: [String: Int]

    /// Reads the header line (line `line` of the file); throws if a required column is missing or named twice.
    public init(header line: Substring, source: String, line headerLine: Int = 1) throws(SampleCSVError) {
        self.source = source
        header = Self.fields(of: line).map { String($0) }
        var positions: [String: Int] = [:]
        for (index, name) in header.enumerated()
        where Self.requiredColumns.contains(name) || Self.optionalColumns.contains(name) {
            guard positions[name] == nil else {
                throw SampleCSVError(
                    source: source, line: headerLine, column: name, message: "the column is named twice")
            }
            positions[name] = index
        }
        for name in Self.requiredColumns where positions[name] == nil {
            throw SampleCSVError(
                source: source, line: headerLine, column: name,
                message: "the header has no '\(name)' column; it needs \(Self.requiredColumns.joined(separator: ", "))"
                    + " (and may have \(Self.optionalColumns.joined(separator: ", "))), found: "
                    + header.joined(separator: ","))
        }
        self.positions = positions
    }

    /// Longest header or data line accepted, in bytes: a row of samples is under 200 bytes.
    public static let maximumLineLength = 64 * 1024
    /// Longest `#` metadata line accepted, in bytes: `protocol_text` holds a whole protocol (at most 256 KiB) as a
    /// JSON string.
    public static let maximumMetadataLineLength = 2 * 1024 * 1024
    /// Bytes read from a file at a time; a stream holds at most one line and one such chunk.
    public static let readChunkSize = 64 * 1024

    /// Reads all samples of CSV text (header first); blank lines are skipped.
    public static func samples(in text: String, source: String) throws(SampleCSVError) -> [InstrumentSample] {
        try read(text, source: source).samples
    }

    /// Reads the metadata block and all samples of CSV text; blank lines are skipped.
    public static func read(_ text: String, source: String) throws(SampleCSVError) -> SampleCSVFile {
        try SampleCSVFile(
            stream: SampleCSVStream(lines: CSVLines(bytes: Array(text.utf8), source: source), source: source))
    }

    /// Reads the metadata block and all samples of the CSV file at `path`, streaming it: memory holds the samples
    /// and one line of text, never the whole file.
    public static func read(contentsOfFile path: String, source: String? = nil) throws(SampleCSVError)
        -> SampleCSVFile
    {
        try SampleCSVFile(stream: SampleCSVStream(path: path, source: source ?? path))
    }

    /// Parses one data row.
    public func sample(from line: Substring, line lineNumber: Int) throws(SampleCSVError) -> InstrumentSample {
        let values = Self.fields(of: line)
        guard values.count == header.count else {
            throw SampleCSVError(
                source: source, line: lineNumber, column: nil,
                message: "\(values.count) fields where the header has \(header.count)")
        }
        var flags = SampleFlags()
        if let position = positions["flags"], !values[position].isEmpty {
            guard let named = SampleFlags(names: values[position].split(separator: "|")) else {
                throw SampleCSVError(
                    source: source, line: lineNumber, column: "flags",
                    message: "'\(values[position])' names an unknown flag; flags are "
                        + SampleFlags.named.map(\.name).joined(separator: ", ") + ", joined by '|'")
            }
            flags = named
        }
        // A value the instrument sent as non-finite is exported empty; it reads back as NaN.
        let nonFinite = flags.contains(.nonFinite)
        func number(_ name: String) throws(SampleCSVError) -> Double? {
            guard let position = positions[name] else { return nil }
            let text = values[position]
            if text.isEmpty, nonFinite, name == "current_A" || name == "voltage_V" || name == "voltage_we_re_V" {
                return .nan
            }
            if text.isEmpty {
                guard !Self.requiredColumns.contains(name) else {
                    throw SampleCSVError(
                        source: source, line: lineNumber, column: name, message: "the value is missing")
                }
                return nil
            }
            guard let value = Double(text), value.isFinite else {
                throw SampleCSVError(
                    source: source, line: lineNumber, column: name, message: "'\(text)' is not a finite number")
            }
            return value
        }
        return InstrumentSample(
            time_s: try number("time_s")!, current_A: try number("current_A")!, voltage_V: try number("voltage_V")!,
            voltageWERE_V: try number("voltage_we_re_V"), pressure_MPa: try number("pressure_MPa"),
            temperature_C: try number("temperature_C"), flags: flags)
    }

    static func fields(of line: Substring) -> [Substring] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { field in
            var trimmed = field
            while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
            while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
            return trimmed
        }
    }
}

/// Reads a sample CSV one sample at a time: the metadata block and the header when it is opened, then each row as it
/// is asked for. A file of millions of rows takes constant memory; a line longer than
/// ``SampleCSVReader/maximumLineLength`` (``SampleCSVReader/maximumMetadataLineLength`` for `#` lines before the
/// header) is refused without reading the rest of it.
public struct SampleCSVStream {
    /// The file's metadata block (empty when it has none).
    public private(set) var metadata = CSVMetadata()
    private var lines: CSVLines
    private let reader: SampleCSVReader
    private var previousTime: Double?

    /// Opens the file at `path` and reads its metadata block and header.
    public init(path: String, source: String? = nil) throws(SampleCSVError) {
        let name = source ?? path
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw SampleCSVError(
                source: name, line: 1, column: nil, message: "cannot read: \(error.localizedDescription)")
        }
        try self.init(lines: CSVLines(fileHandle: handle, source: name), source: name)
    }

    /// Reads from an open file handle (standard input), which stays open.
    public init(fileHandle: FileHandle, source: String) throws(SampleCSVError) {
        try self.init(lines: CSVLines(fileHandle: fileHandle, source: source), source: source)
    }

    init(lines: CSVLines, source: String) throws(SampleCSVError) {
        self.lines = lines
        var metadata = CSVMetadata()
        var lastLine = 0
        while let line = try self.lines.next(limit: Self.limitBeforeHeader) {
            lastLine = line.number
            if Self.isBlank(line.text) { continue }
            if line.text.first == "#" {
                try metadata.read(line.text, line: line.number, source: source)
                continue
            }
            self.metadata = metadata
            reader = try SampleCSVReader(header: line.text, source: source, line: line.number)
            return
        }
        throw SampleCSVError(
            source: source, line: max(lastLine, 1), column: nil, message: "the file has no header line")
    }

    /// The next sample, or nil at the end of the file.
    public mutating func next() throws(SampleCSVError) -> InstrumentSample? {
        while let line = try lines.next(limit: { _ in SampleCSVReader.maximumLineLength }) {
            if Self.isBlank(line.text) { continue }
            let sample = try reader.sample(from: line.text, line: line.number)
            // A late sample was measured before the output changed and arrived after: its time may lie behind.
            if !sample.flags.contains(.late) {
                if let previousTime, sample.time_s < previousTime {
                    throw SampleCSVError(
                        source: reader.source, line: line.number, column: "time_s",
                        message:
                            "time goes backwards (\(sample.time_s) after \(previousTime)); rows must be in time order")
                }
                previousTime = sample.time_s
            }
            return sample
        }
        return nil
    }

    /// Every sample left in the file.
    public mutating func remainingSamples() throws(SampleCSVError) -> [InstrumentSample] {
        var samples: [InstrumentSample] = []
        while let sample = try next() { samples.append(sample) }
        return samples
    }

    /// The most bytes of the file held in memory at once so far.
    public var largestBufferHeld: Int { lines.largestBufferHeld }

    private static func limitBeforeHeader(_ first: UInt8?) -> Int {
        first == UInt8(ascii: "#") ? SampleCSVReader.maximumMetadataLineLength : SampleCSVReader.maximumLineLength
    }

    private static func isBlank(_ text: Substring) -> Bool { text.allSatisfy { $0 == " " || $0 == "\t" } }
}
