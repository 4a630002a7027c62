/// A stop criterion as written in a protocol's `stop:` list: its name and its parameters.
public struct CriterionDeclaration: Sendable, Hashable, Codable {
    public var name: String
    public var parameters: [String: CriterionValue]
    /// `optional: true` in the protocol: a rig that does not measure what the criterion needs may still run the
    /// protocol (the criterion then judges nothing). Otherwise such a rig refuses the run at start.
    public var isOptional: Bool
    /// Where the criterion was written, when it was read from a file: errors found when it is built cite it.
    public var position: SourcePosition?

    public init(
        name: String, parameters: [String: CriterionValue] = [:], isOptional: Bool = false,
        position: SourcePosition? = nil
    ) {
        self.name = name
        self.parameters = parameters
        self.isOptional = isOptional
        self.position = position
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        parameters = try container.decode([String: CriterionValue].self, forKey: .parameters)
        isOptional = try container.decodeIfPresent(Bool.self, forKey: .isOptional) ?? false
        position = try container.decodeIfPresent(SourcePosition.self, forKey: .position)
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
    /// What one of its verdicts means, in a few words, for summaries of a run ("the seed-004 {drop} rule for a
    /// dendrite short"); `{name}` stands for the value of parameter `name`, which the verdict's evidence holds as
    /// `name_unit`.
    public var meaning: String? = nil
    public var help: String
    public var parameters: [ParameterSpec]
    /// What the rig must measure for the criterion to judge anything (a guard on stack pressure needs a pressure
    /// sensor); empty for criteria that need only current and voltage.
    public var needs: [MeasuredQuantity] = []
    /// The kinds of step the criterion can judge; nil for every kind (guards). The engine hands it no samples of a
    /// potential-controlled step it cannot judge (rests and impedance steps still reach it, to settle its models),
    /// and a protocol that declares it without any step it can judge is refused at validation.
    public var judges: [StepKind]? = nil

    /// True when the criterion judges samples of steps of `kind`.
    public func judges(_ kind: StepKind) -> Bool { judges?.contains(kind) ?? true }

    public func parameter(_ name: String) -> ParameterSpec? {
        parameters.first { $0.name == name }
    }
}

/// The criteria a protocol's `stop:` list may name. Engine holds one implementation for each.
public enum CriterionCatalogue {
    /// The steps that criteria watching the voltage under a set current can judge: in a potential-controlled step
    /// the voltage is what is set, so a short or a void shows in the current instead.
    public static let currentControlledSteps: [StepKind] = [.plate, .strip, .galvanostatic]

    public static let all: [CriterionSpec] = [
        CriterionSpec(
            name: "voltage-drop",
            meaning: "the seed-004 {drop} rule for a dendrite short",
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
                ParameterSpec(
                    "action", .word(["warn", "stop"]), default: .word("stop"),
                    help: "`warn` records the rule's verdicts (to compare with published numbers) without stopping"),
            ], judges: currentControlledSteps),
        CriterionSpec(
            name: "voltage-window",
            meaning: "the cell voltage outside its window",
            help: "Guard: the controlled voltage leaves [min, max]. Stops the run at open circuit.",
            parameters: [
                ParameterSpec(
                    "min", .quantity(.voltage, -20...20), default: .quantity(Quantity(-5, .voltage)),
                    help: "lowest allowed voltage"),
                ParameterSpec(
                    "max", .quantity(.voltage, -20...20), default: .quantity(Quantity(5, .voltage)),
                    help: "highest allowed voltage"),
            ]),
        CriterionSpec(
            name: "dendrite-short",
            meaning: "a dendrite short found by the model-based detector",
            help: "Dendrite short, model-based: each watched plating step's polarisation is predicted by a local model "
                + "(level and trend with the decaying transients after the current change and nucleation); any of "
                + "eight tests stops the run: a CUSUM on the noise-standardised shortfall below the prediction (|V| "
                + "must also fall below where it was, after the model had followed it), a run of falls far beyond the "
                + "sample-to-sample noise, half the step's settled level (or of an earlier step's end at a similar "
                + "current) lost however slowly, repeated drops with partial recovery, and noise with a long lower "
                + "tail only, sample-to-sample noise ten times that at an earlier step's end or four times the "
                + "step's own earlier with |V| below it, and (sampled every 0.25 s or faster) three samples in a row "
                + "10 % below the step's level just before. "
                + "The noise is floored at the reading's resolution. Sampled faster than every 0.25 s, the tests also "
                + "judge means over 1 s windows. The first step in each direction is judged only once it "
                + "has settled (nucleation). Detection figures hold on the benchmark's trace families only (make "
                + "bench-criteria, shipped CCD protocols: 72/72, 69/72 and 70/72 shorts found on its three families, "
                + "no stop before the onset and no false alarm in 432 runs; "
                + "the phenomena tested are listed in docs/protocol-files.md), not on cells in general. The CCD is "
                + "the step's current density.",
            parameters: [
                ParameterSpec(
                    "during", .word(["plate", "both"]), default: .word("plate"),
                    help: "which steps are watched: `both` for symmetric cells, where every half-cycle plates "
                        + "one electrode"),
                ParameterSpec(
                    "min-drop", .quantity(.voltage, 1e-6...0.1), default: .quantity(Quantity(3e-4, .voltage)),
                    help: "smallest sustained fall below the prediction that counts, however quiet the signal"),
                ParameterSpec(
                    "memory", .quantity(.time, 1...86400), default: .quantity(Quantity(60, .time)),
                    help: "cell time over which the model forgets old samples (at least 20 samples are kept)"),
                ParameterSpec(
                    "noise-floor", .quantity(.voltage, 1e-8...0.01), default: .quantity(Quantity(1e-5, .voltage)),
                    help: "lowest voltage noise assumed, whatever the samples show"),
            ], judges: currentControlledSteps),
        CriterionSpec(
            name: "hard-short",
            meaning: "a hard short: the apparent area resistance fell below its threshold",
            help: "Hard short: once a watched plating step has settled, the apparent area resistance |V/I| x area "
                + "falls below `below`, by default a fifth of a trusted reference (the given electrolyte resistance, "
                + "else one measured by an impedance step of the run, else the rig file's conductivity and "
                + "thickness, else the settled apparent resistance of earlier steps at a similar current and of the "
                + "step itself) for two smoothed samples in a row. Never judges a step that has not settled. Stops "
                + "the run; sets the CCD.",
            parameters: [
                ParameterSpec(
                    "during", .word(["plate", "both"]), default: .word("plate"),
                    help: "which steps are watched: `both` for symmetric cells"),
                ParameterSpec(
                    "electrolyte-resistance", .quantity(.arealResistance, 1e-4...1e7),
                    help: "bulk resistance of the electrolyte x area, e.g. from EIS; default: measured by an "
                        + "impedance step of the run, from the rig file, or the settled apparent resistance"),
                ParameterSpec(
                    "below", .quantity(.arealResistance, 1e-5...1e7),
                    help: "the apparent resistance that means a short; default a fifth of the electrolyte's"),
            ], judges: currentControlledSteps),
        CriterionSpec(
            name: "voiding",
            meaning: "voiding while stripping: the polarisation rose",
            help: "Voiding while stripping (WE-RE in a three-electrode cell, else the cell voltage): the "
                + "polarisation rises by `rise` (or doubles, if less; at least `min-rise` and ten times the noise) "
                + "within a half-cycle with upward curvature; or the end-of-strip "
                + "polarisation has grown by `growth` over the first strips at the same current; or the trend "
                + "reaches the voltage limit within `horizon`. One verdict per step, with all three measures.",
            parameters: [
                ParameterSpec(
                    "during", .word(["strip", "both"]), default: .word("strip"),
                    help: "which steps are watched: `both` for symmetric cells, where every half-cycle strips "
                        + "one electrode"),
                ParameterSpec(
                    "action", .word(["warn", "end-step", "pause", "stop"]), default: .word("warn"),
                    help: "what a voiding verdict does"),
                ParameterSpec(
                    "rise", .quantity(.voltage, 1e-5...10), default: .quantity(Quantity(0.02, .voltage)),
                    help: "rise of the polarisation above its lowest settled value within one step; a doubling is "
                        + "enough where that is less"),
                ParameterSpec(
                    "min-rise", .quantity(.voltage, 1e-6...1), default: .quantity(Quantity(0.003, .voltage)),
                    help: "smallest rise that counts however low the polarisation, above the slow wander of the "
                        + "reference and the instrument; also needed by the time-left test"),
                ParameterSpec(
                    "growth", .quantity(.voltage, 1e-5...10), default: .quantity(Quantity(0.03, .voltage)),
                    help: "growth of the end-of-strip polarisation over that of the first two strips at the same "
                        + "current"),
                ParameterSpec(
                    "horizon", .quantity(.time, 0...864000), default: .quantity(Quantity(600, .time)),
                    help: "warn when the trend reaches the voltage limit sooner than this (0 disables)"),
                ParameterSpec(
                    "settle", .quantity(.time, 0...86400), default: .quantity(Quantity(30, .time)),
                    help: "cell time after the start of a step before its baseline is taken"),
                ParameterSpec(
                    "limit", .quantity(.voltage, 1e-4...20),
                    help: "voltage limit for the time-left prediction; default the step's own voltage limit"),
            ], judges: currentControlledSteps),
        CriterionSpec(
            name: "stack-pressure",
            meaning: "the stack pressure outside {setpoint} +/- {band} for longer than {hold}",
            help: "Guard: the measured stack pressure stays outside setpoint +/- band for longer than `hold`.",
            parameters: [
                ParameterSpec(
                    "setpoint", .quantity(.pressure, 0...1000),
                    help: "default: the protocol's `conditions.stack_pressure`, else the rig's cell"),
                ParameterSpec(
                    "band", .quantity(.pressure, 0...1000), default: .quantity(Quantity(0.5, .pressure)),
                    help: "allowed deviation from the setpoint either way"),
                ParameterSpec(
                    "hold", .quantity(.time, 0...86400), default: .quantity(Quantity(60, .time)),
                    help: "how long the pressure may stay outside the band"),
                ParameterSpec(
                    "action", .word(["warn", "end-step", "pause", "stop"]), default: .word("pause"),
                    help: "what the guard does: `pause` puts the cell at open circuit until `resume`"),
            ], needs: [.stackPressure]),
        CriterionSpec(
            name: "temperature",
            meaning: "the temperature above {max} for longer than {hold}",
            help: "Guard: the measured temperature stays above `max` for longer than `hold` (default 10 C below "
                + "the anode metal's melting point: K 63.5, Na 97.8, Li 180.5 C).",
            parameters: [
                ParameterSpec(
                    "max", .quantity(.temperature, -100...500),
                    help: "highest allowed temperature; default 10 C below the metal's melting point"),
                ParameterSpec(
                    "metal", .word(AnodeMetal.allCases.map(\.rawValue)),
                    help: "anode metal; default the rig's cell"),
                ParameterSpec(
                    "hold", .quantity(.time, 0...86400), default: .quantity(Quantity(10, .time)),
                    help: "how long the temperature may stay above the maximum"),
                ParameterSpec(
                    "action", .word(["warn", "end-step", "pause", "stop"]), default: .word("stop"),
                    help: "what the guard does"),
            ], needs: [.temperature]),
        CriterionSpec(
            name: "metal-inventory",
            meaning: "more metal stripped than an electrode holds",
            help: "Guard: the net charge stripped from either electrode would exceed the metal it holds (thickness "
                + "/ um per mAh/cm2: Li 4.85, Na 8.86, K 16.9); checked before each step from its planned "
                + "capacity and on every sample.",
            parameters: [
                ParameterSpec(
                    "metal", .word(AnodeMetal.allCases.map(\.rawValue)),
                    help: "anode metal; default the rig's cell"),
                ParameterSpec(
                    "thickness", .quantity(.length, 1e-3...1e5),
                    help: "initial metal thickness of each electrode; default the rig's cell"),
                ParameterSpec(
                    "reserve", .quantity(.length, 0...1e5), default: .quantity(Quantity(0, .length)),
                    help: "metal that must remain"),
                ParameterSpec(
                    "action", .word(["warn", "end-step", "pause", "stop"]), default: .word("stop"),
                    help: "what the guard does"),
            ]),
    ]

    public static func spec(named name: String) -> CriterionSpec? {
        all.first { $0.name == name }
    }
}

/// A quantity a rig may or may not measure besides current and voltage; criteria name the ones they need.
public enum MeasuredQuantity: String, Sendable, Hashable, Codable, CaseIterable {
    case stackPressure = "stack pressure"
    case temperature
}
