/// Numbers in SCPI replies and commands.
public enum SCPINumber {
    /// The value a 2400 sends for an element it did not measure.
    public static let notANumberSentinel = 9.91e37

    /// Parses `+3.712345E+00`, `1`, `-2.5e-4`; the 9.91E37 sentinel becomes NaN, 9.9E37 (over-range) +infinity.
    public static func parse(_ text: some StringProtocol) -> Double? {
        let trimmed = text.strippingBlanks()
        guard !trimmed.isEmpty, let value = Double(trimmed) else { return nil }
        if abs(value - notANumberSentinel) < 1e33 { return .nan }
        if abs(value - 9.9e37) < 1e33 { return value > 0 ? .infinity : -.infinity }
        return value
    }

    /// A compact decimal for commands: `0.00025`, `-1`, `4.5`, `1E-09`. Never locale-dependent.
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        let text = "\(value)"
        return text.replacingExponent()
    }
}

extension StringProtocol {
    fileprivate func strippingBlanks() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}

extension String {
    /// Swift prints `1e-09`; SCPI accepts it, but upper case matches the manuals.
    fileprivate func replacingExponent() -> String {
        String(map { $0 == "e" ? "E" : $0 })
    }
}
