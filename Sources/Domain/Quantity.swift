import Foundation

/// A physical dimension that a value in a protocol or rig file may carry.
///
/// Every dimension has one canonical unit; ``Quantity/value`` is always stored in it, and names of bare
/// numbers elsewhere in cellrig carry that unit (`current_A`, `currentDensity_mA_cm2`, ...).
public enum Dimension: String, Sendable, Hashable, Codable, CaseIterable {
    case current
    case currentDensity
    case charge
    case arealCapacity
    case time
    case voltage
    case pressure
    case temperature
    case area
    case length
    case resistance
    case arealResistance
    case conductivity
    case frequency
    /// A rate of change of voltage: scan rates and relaxation thresholds.
    case voltageRate

    /// The unit every value of this dimension is stored in.
    public var canonicalUnit: String {
        switch self {
        case .current: "A"
        case .currentDensity: "mA/cm2"
        case .charge: "mAh"
        case .arealCapacity: "mAh/cm2"
        case .time: "s"
        case .voltage: "V"
        case .pressure: "MPa"
        case .temperature: "C"
        case .area: "cm2"
        case .length: "um"
        case .resistance: "Ohm"
        case .arealResistance: "Ohm cm2"
        case .conductivity: "mS/cm"
        case .frequency: "Hz"
        case .voltageRate: "V/s"
        }
    }

    /// A phrase for error messages ("a current density").
    public var phrase: String {
        switch self {
        case .current: "a current"
        case .currentDensity: "a current density"
        case .charge: "a charge"
        case .arealCapacity: "an areal capacity"
        case .time: "a time"
        case .voltage: "a voltage"
        case .pressure: "a pressure"
        case .temperature: "a temperature"
        case .area: "an area"
        case .length: "a length"
        case .resistance: "a resistance"
        case .arealResistance: "an areal resistance"
        case .conductivity: "a conductivity"
        case .frequency: "a frequency"
        case .voltageRate: "a rate of change of voltage"
        }
    }

    /// Every unit symbol accepted for this dimension, in the order error messages list them.
    public var acceptedUnits: [String] {
        Unit.table.filter { $0.dimension == self }.map(\.symbol)
    }
}

/// A unit symbol with the linear map to its dimension's canonical unit: `canonical = value * scale + offset`.
struct Unit: Sendable {
    let symbol: String
    let dimension: Dimension
    let scale: Double
    let offset: Double

    init(_ symbol: String, _ dimension: Dimension, _ scale: Double, offset: Double = 0) {
        self.symbol = symbol
        self.dimension = dimension
        self.scale = scale
        self.offset = offset
    }

    static let table: [Unit] = [
        Unit("A", .current, 1), Unit("mA", .current, 1e-3), Unit("uA", .current, 1e-6),
        Unit("nA", .current, 1e-9), Unit("pA", .current, 1e-12),
        Unit("A/cm2", .currentDensity, 1e3), Unit("mA/cm2", .currentDensity, 1),
        Unit("uA/cm2", .currentDensity, 1e-3), Unit("nA/cm2", .currentDensity, 1e-6),
        Unit("Ah", .charge, 1e3), Unit("mAh", .charge, 1), Unit("uAh", .charge, 1e-3), Unit("nAh", .charge, 1e-6),
        Unit("C", .charge, 1 / 3.6), Unit("mC", .charge, 1 / 3600),
        Unit("mAh/cm2", .arealCapacity, 1), Unit("uAh/cm2", .arealCapacity, 1e-3),
        Unit("Ah/cm2", .arealCapacity, 1e3),
        Unit("ms", .time, 1e-3), Unit("s", .time, 1), Unit("min", .time, 60), Unit("h", .time, 3600),
        Unit("d", .time, 86400),
        Unit("V", .voltage, 1), Unit("mV", .voltage, 1e-3), Unit("uV", .voltage, 1e-6),
        Unit("MPa", .pressure, 1), Unit("kPa", .pressure, 1e-3), Unit("Pa", .pressure, 1e-6),
        Unit("bar", .pressure, 0.1), Unit("GPa", .pressure, 1e3),
        Unit("C", .temperature, 1), Unit("K", .temperature, 1, offset: -273.15),
        Unit("cm2", .area, 1), Unit("mm2", .area, 1e-2), Unit("um2", .area, 1e-8),
        Unit("nm", .length, 1e-3), Unit("um", .length, 1), Unit("mm", .length, 1e3), Unit("cm", .length, 1e4),
        Unit("mOhm", .resistance, 1e-3), Unit("Ohm", .resistance, 1), Unit("kOhm", .resistance, 1e3),
        Unit("MOhm", .resistance, 1e6),
        Unit("Ohm cm2", .arealResistance, 1), Unit("mOhm cm2", .arealResistance, 1e-3),
        Unit("kOhm cm2", .arealResistance, 1e3),
        Unit("S/cm", .conductivity, 1e3), Unit("mS/cm", .conductivity, 1), Unit("uS/cm", .conductivity, 1e-3),
        Unit("Hz", .frequency, 1), Unit("kHz", .frequency, 1e3), Unit("MHz", .frequency, 1e6),
        Unit("mHz", .frequency, 1e-3),
        Unit("V/s", .voltageRate, 1), Unit("mV/s", .voltageRate, 1e-3), Unit("uV/s", .voltageRate, 1e-6),
        Unit("mV/min", .voltageRate, 1e-3 / 60), Unit("uV/min", .voltageRate, 1e-6 / 60),
        Unit("mV/h", .voltageRate, 1e-3 / 3600),
    ]
}

/// A number with a dimension, held in the dimension's canonical unit.
public struct Quantity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The value in ``Dimension/canonicalUnit``.
    public var value: Double
    public var dimension: Dimension

    public init(_ value: Double, _ dimension: Dimension) {
        self.value = value
        self.dimension = dimension
    }

    public var description: String { "\(formatNumber(value)) \(dimension.canonicalUnit)" }

    /// Parses text such as `0.5 mA/cm2`, `-2 nA`, `10 s` or `2.5 MPa`.
    ///
    /// The number comes first, then one optional space, then exactly one of the dimension's accepted unit
    /// symbols (`u` stands for micro; `µ` is accepted as the same). A bare number is rejected: every value
    /// in a protocol or rig file states its unit.
    public static func parse(_ text: String, as dimension: Dimension) throws(QuantityError) -> Quantity {
        let trimmed = text.trimmingWhitespace()
        let normalised = trimmed.replacingMicroSign()
        let numberEnd = normalised.firstIndex { !("0123456789.+-eE".contains($0)) } ?? normalised.endIndex
        var numberText = String(normalised[..<numberEnd])
        var unitText = String(normalised[numberEnd...])
        // "1e-3 V" is fine; but "2 mV" must not eat the 'e' of a unit. Give back a trailing e/E.
        while let last = numberText.last, last == "e" || last == "E" {
            numberText.removeLast()
            unitText = String(last) + unitText
        }
        if unitText.hasPrefix(" ") { unitText.removeFirst() }
        guard !numberText.isEmpty, let number = Double(numberText), number.isFinite else {
            throw QuantityError(text: text, dimension: dimension, problem: .notANumber)
        }
        guard !unitText.isEmpty else {
            throw QuantityError(text: text, dimension: dimension, problem: .missingUnit)
        }
        guard let unit = Unit.table.first(where: { $0.symbol == unitText && $0.dimension == dimension }) else {
            throw QuantityError(text: text, dimension: dimension, problem: .unknownUnit(unitText))
        }
        return Quantity(number * unit.scale + unit.offset, dimension)
    }

    /// Parses text whose dimension is one of several, e.g. a schedule that may hold currents or current densities.
    public static func parse(_ text: String, asOneOf dimensions: [Dimension]) throws(QuantityError) -> Quantity {
        var firstError: QuantityError?
        for dimension in dimensions {
            do {
                return try parse(text, as: dimension)
            } catch {
                if case .unknownUnit = error.problem { continue }
                firstError = firstError ?? error
            }
        }
        throw firstError ?? QuantityError(text: text, dimensions: dimensions, problem: .unknownUnit(text))
    }
}

/// Why a text could not be read as a ``Quantity``; its description says what is allowed.
public struct QuantityError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        case notANumber
        case missingUnit
        case unknownUnit(String)
    }

    public var text: String
    public var dimensions: [Dimension]
    public var problem: Problem

    public init(text: String, dimension: Dimension, problem: Problem) {
        self.init(text: text, dimensions: [dimension], problem: problem)
    }

    public init(text: String, dimensions: [Dimension], problem: Problem) {
        self.text = text
        self.dimensions = dimensions
        self.problem = problem
    }

    /// What the value should look like, e.g. "a current density (mA/cm2, uA/cm2, ...), e.g. `0.5 mA/cm2`".
    public var expectation: String {
        dimensions.map { dimension in
            let units = dimension.acceptedUnits.joined(separator: ", ")
            return "\(dimension.phrase) with a unit (\(units))"
        }.joined(separator: " or ")
    }

    public var description: String {
        switch problem {
        case .notANumber: "'\(text)' does not start with a number; expected \(expectation)"
        case .missingUnit: "'\(text)' has no unit; expected \(expectation)"
        case .unknownUnit(let unit):
            "'\(unit)' is not a unit of \(dimensions.map(\.phrase).joined(separator: " or ")); "
                + "expected \(expectation)"
        }
    }
}

/// Formats a number compactly and reproducibly (no trailing zeros, up to 6 significant digits).
public func formatNumber(_ value: Double, significantDigits: Int = 6) -> String {
    if value == 0 { return "0" }
    if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
    var text = String(format: "%.\(significantDigits)g", value)
    if text.contains("."), !text.contains("e") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }

    func replacingMicroSign() -> String {
        String(map { $0 == "µ" || $0 == "μ" ? "u" : $0 })
    }
}
