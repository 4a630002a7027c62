import Domain

/// One spectrum read from an impedance CSV: the step it belongs to (when the file says) and its points.
public struct ImpedanceCSVSpectrum: Sendable, Hashable {
    public var step: Int?
    public var cycle: Int?
    public var points: [ImpedancePoint]
}

/// Reads impedance spectra from CSV: the output of `cellrig export --impedance`, or any CSV whose header has
/// `frequency_Hz`, `z_real_Ohm` and `z_imag_Ohm` (Z'' negative for a capacitive response). Optional `step`,
/// `cycle` and `time_s` columns; rows of one step form one spectrum. `#` lines before the header are the metadata
/// block (``CSVMetadata``).
public enum ImpedanceCSVReader {
    public static let requiredColumns = ["frequency_Hz", "z_real_Ohm", "z_imag_Ohm"]

    public static func read(_ text: String, source: String) throws(SampleCSVError) -> (
        metadata: CSVMetadata, spectra: [ImpedanceCSVSpectrum]
    ) {
        var metadata = CSVMetadata()
        var positions: [String: Int]?
        var columnCount = 0
        var spectra: [ImpedanceCSVSpectrum] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.last == "\r" ? line.dropLast() : line
            if trimmed.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = SampleCSVReader.fields(of: trimmed)
            guard let known = positions else {
                if trimmed.first == "#" {
                    try metadata.read(trimmed, line: lineNumber, source: source)
                    continue
                }
                var found: [String: Int] = [:]
                for (index, name) in fields.enumerated() { found[String(name)] = found[String(name)] ?? index }
                for name in requiredColumns where found[name] == nil {
                    throw SampleCSVError(
                        source: source, line: lineNumber, column: name,
                        message: "the header has no '\(name)' column; it needs "
                            + requiredColumns.joined(separator: ", ") + " (and may have step, cycle, time_s)")
                }
                positions = found
                columnCount = fields.count
                continue
            }
            guard fields.count == columnCount else {
                throw SampleCSVError(
                    source: source, line: lineNumber, column: nil,
                    message: "\(fields.count) fields where the header has \(columnCount)")
            }
            func number(_ name: String) throws(SampleCSVError) -> Double? {
                guard let position = known[name] else { return nil }
                guard let value = Double(fields[position]), value.isFinite else {
                    throw SampleCSVError(
                        source: source, line: lineNumber, column: name,
                        message: "'\(fields[position])' is not a finite number")
                }
                return value
            }
            let frequency = try number("frequency_Hz")!
            guard frequency > 0 else {
                throw SampleCSVError(
                    source: source, line: lineNumber, column: "frequency_Hz",
                    message: "\(frequency) is not a positive frequency")
            }
            let step = try number("step").map { Int($0) }
            let point = ImpedancePoint(
                time_s: try number("time_s") ?? 0, frequency_Hz: frequency, real_Ohm: try number("z_real_Ohm")!,
                imaginary_Ohm: try number("z_imag_Ohm")!)
            if let last = spectra.last, last.step == step {
                spectra[spectra.count - 1].points.append(point)
            } else {
                spectra.append(
                    ImpedanceCSVSpectrum(step: step, cycle: try number("cycle").map { Int($0) }, points: [point]))
            }
        }
        guard positions != nil else {
            throw SampleCSVError(
                source: source, line: max(lineNumber, 1), column: nil, message: "the file has no header line")
        }
        return (metadata, spectra)
    }
}
