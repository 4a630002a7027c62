/// A stop criterion as written in a protocol's `stop:` list: its name and its parameters.
public struct CriterionDeclaration: Sendable, Hashable, Codable {
    public var name: String
    public var parameters: [String: CriterionValue]

    public init(name: String, parameters: [String: CriterionValue] = [:]) {
        self.name = name
        self.parameters = parameters
    }

    /// The quantity value of a parameter, falling back to the catalogue default.
    public func quantity(_ key: String) -> Double? {
        if case .quantity(let quantity)? = parameters[key] { return quantity.value }
        if case .quantity(let quantity)? = spec?.parameter(key)?.defaultValue { return quantity.value }
        return nil
    }

    /// The word value of a parameter, falling back to the catalogue default.
    public func word(_ key: String) -> String? {
        if case .word(let word)? = parameters[key] { return word }
        if case .word(let word)? = spec?.parameter(key)?.defaultValue { return word }
        return nil
    }

    public var spec: CriterionSpec? { CriterionCatalogue.spec(named: name) }
}

/// The value of one criterion parameter: a quantity with a unit, or one word from an allowed list.
public enum CriterionValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case quantity(Quantity)
    case word(String)

    public var description: String {
        switch self {
        case .quantity(let quantity): quantity.description
        case .word(let word): word
        }
    }
}

/// What a criterion parameter accepts, with its default; used to validate protocol files and to document them.
public struct ParameterSpec: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A quantity of this dimension within `range` (canonical units).
        case quantity(Dimension, ClosedRange<Double>)
        /// One of these words.
        case word([String])
    }

    public var name: String
    public var kind: Kind
    public var defaultValue: CriterionValue?
    public var help: String

    public init(_ name: String, _ kind: Kind, default defaultValue: CriterionValue? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }
}

/// A criterion cellrig knows: its name, what it watches for, and its parameters.
public struct CriterionSpec: Sendable, Hashable {
    public var name: String
    public var help: String
    public var parameters: [ParameterSpec]

    public func parameter(_ name: String) -> ParameterSpec? {
        parameters.first { $0.name == name }
    }
}

/// The criteria a protocol's `stop:` list may name. Engine holds one implementation for each.
public enum CriterionCatalogue {
    public static let all: [CriterionSpec] = [
        CriterionSpec(
            name: "voltage-drop",
            help: "Dendrite short, seed-004 rule: within a plating step, the voltage magnitude falls by `drop` "
                + "below its running extreme. Stops the run; the step's current density is the CCD.",
            parameters: [
                ParameterSpec(
                    "drop", .quantity(.voltage, 1e-5...1), default: .quantity(Quantity(2e-3, .voltage)),
                    help: "how far below the running extreme of |V| the voltage must fall"),
                ParameterSpec(
                    "during", .word(["plate", "strip", "both"]), default: .word("plate"),
                    help: "which steps are watched: `both` for symmetric cells, where every half-cycle plates "
                        + "one electrode"),
                ParameterSpec(
                    "ignore-first", .quantity(.time, 0...86400), default: .quantity(Quantity(0, .time)),
                    help: "cell time at the start of each watched step that is not judged"),
            ]),
        CriterionSpec(
            name: "voltage-window",
            help: "Guard: the controlled voltage leaves [min, max]. Stops the run at open circuit.",
            parameters: [
                ParameterSpec(
                    "min", .quantity(.voltage, -20...20), default: .quantity(Quantity(-5, .voltage)),
                    help: "lowest allowed voltage"),
                ParameterSpec(
                    "max", .quantity(.voltage, -20...20), default: .quantity(Quantity(5, .voltage)),
                    help: "highest allowed voltage"),
            ]),
    ]

    public static func spec(named name: String) -> CriterionSpec? {
        all.first { $0.name == name }
    }
}
