import Domain

/// Why a sample CSV cannot be read: the line (1 is the header), the column and what was wrong.
public struct SampleCSVError: Error, Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var column: String?
    public var message: String

    public var description: String {
        let columnText = column.map { ", column '\($0)'" } ?? ""
        return "\(source): line \(line)\(columnText): \(message)"
    }
}

/// A sample CSV as read: its metadata block (empty when the file has none) and its samples.
public struct SampleCSVFile: Sendable {
    public var metadata: CSVMetadata
    public var samples: [InstrumentSample]
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

    /// Reads all samples of CSV text (header first); blank lines are skipped.
    public static func samples(in text: String, source: String) throws(SampleCSVError) -> [InstrumentSample] {
        try read(text, source: source).samples
    }

    /// Reads the metadata block and all samples of CSV text; blank lines are skipped.
    public static func read(_ text: String, source: String) throws(SampleCSVError) -> SampleCSVFile {
        var samples: [InstrumentSample] = []
        var metadata = CSVMetadata()
        var reader: SampleCSVReader?
        var previousTime: Double?
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.last == "\r" ? line.dropLast() : line
            if trimmed.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            guard let current = reader else {
                if trimmed.first == "#" {
                    try metadata.read(trimmed, line: lineNumber, source: source)
                    continue
                }
                reader = try SampleCSVReader(header: trimmed, source: source, line: lineNumber)
                continue
            }
            let sample = try current.sample(from: trimmed, line: lineNumber)
            // A late sample was measured before the output changed and arrived after: its time may lie behind.
            if !sample.flags.contains(.late) {
                if let previousTime, sample.time_s < previousTime {
                    throw SampleCSVError(
                        source: source, line: lineNumber, column: "time_s",
                        message:
                            "time goes backwards (\(sample.time_s) after \(previousTime)); rows must be in time order")
                }
                previousTime = sample.time_s
            }
            samples.append(sample)
        }
        guard reader != nil else {
            throw SampleCSVError(
                source: source, line: max(lineNumber, 1), column: nil, message: "the file has no header line")
        }
        return SampleCSVFile(metadata: metadata, samples: samples)
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
