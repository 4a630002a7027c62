/// How the residuals of an impedance fit are weighted (ZView's "modulus" and "proportional" weighting).
public enum FitWeighting: String, Sendable, Hashable, Codable, CaseIterable {
    /// Both parts of a point's residual divided by |Z| of the point: every point counts alike in relative terms.
    case modulus
    /// The real residual divided by |Z'|, the imaginary one by |Z''| (each floored at 1 % of |Z|).
    case proportional
}

/// One fitted parameter with its standard error and, when the electrode area is known, its area-specific value.
public struct FittedParameter: Sendable, Hashable, Codable {
    /// `R1`, `CPE1_Q`, `CPE1_n`.
    public var name: String
    /// The element the parameter belongs to (`CPE1`).
    public var element: String
    public var unit: String
    public var value: Double
    /// One standard error from the fit's covariance; nil when the spectrum does not determine the parameter.
    public var standardError: Double?
    /// R and W times the area (Ohm cm2), C, Q and L per area (F/cm2...); nil for exponents or an unknown area.
    public var areaSpecificValue: Double?
    public var areaSpecificStandardError: Double?
    public var areaSpecificUnit: String?
    /// True when the fit ended at the parameter's bound (its error bar then means little).
    public var atBound: Bool

    public init(
        name: String, element: String, unit: String, value: Double, standardError: Double?,
        areaSpecificValue: Double? = nil, areaSpecificStandardError: Double? = nil, areaSpecificUnit: String? = nil,
        atBound: Bool = false
    ) {
        self.name = name
        self.element = element
        self.unit = unit
        self.value = value
        self.standardError = standardError
        self.areaSpecificValue = areaSpecificValue
        self.areaSpecificStandardError = areaSpecificStandardError
        self.areaSpecificUnit = areaSpecificUnit
        self.atBound = atBound
    }

    /// The standard error relative to the value (nil when undetermined).
    public var relativeError: Double? {
        guard let standardError, value != 0 else { return nil }
        return standardError / abs(value)
    }
}

/// A resistor in parallel with a capacitor or CPE: one arc of a Nyquist plot, with its effective capacitance.
public struct FittedArc: Sendable, Hashable, Codable {
    public var resistor: String
    public var capacitiveElement: String
    public var resistance_Ohm: Double
    /// The Brug/Hsu-Mansfeld effective capacitance of an R || CPE, (R^(1-n) Q)^(1/n); C itself for an R || C.
    public var effectiveCapacitance_F: Double
    /// The apex frequency of the arc, 1 / (2 pi (R Q)^(1/n)).
    public var characteristicFrequency_Hz: Double

    public init(
        resistor: String, capacitiveElement: String, resistance_Ohm: Double, effectiveCapacitance_F: Double,
        characteristicFrequency_Hz: Double
    ) {
        self.resistor = resistor
        self.capacitiveElement = capacitiveElement
        self.resistance_Ohm = resistance_Ohm
        self.effectiveCapacitance_F = effectiveCapacitance_F
        self.characteristicFrequency_Hz = characteristicFrequency_Hz
    }
}

/// The interfacial resistance a lab compares cells by, in Ohm and per interface in Ohm cm2.
///
/// Convention: the area-specific resistance (ASR) is the fitted resistance times the electrode area. A symmetric
/// two-electrode cell has two identical metal|electrolyte interfaces in series, so one interface is ASR / 2; a
/// three-electrode measurement (WE vs RE) sees one interface.
public struct InterfacialResistance: Sendable, Hashable, Codable {
    /// The resistor taken as the interface: the protocol's choice, else the arc with the lowest apex frequency.
    public var element: String
    public var resistance_Ohm: Double
    public var standardError_Ohm: Double?
    /// Interfaces in series in the measured impedance (2 for a symmetric two-electrode cell).
    public var interfacesInSeries: Int
    /// Resistance times area, Ohm cm2 (all interfaces together).
    public var areaSpecific_Ohm_cm2: Double?
    /// One interface: ASR / interfacesInSeries, Ohm cm2.
    public var perInterface_Ohm_cm2: Double?
    public var perInterfaceStandardError_Ohm_cm2: Double?

    public init(
        element: String, resistance_Ohm: Double, standardError_Ohm: Double?, interfacesInSeries: Int,
        area_cm2: Double?
    ) {
        self.element = element
        self.resistance_Ohm = resistance_Ohm
        self.standardError_Ohm = standardError_Ohm
        self.interfacesInSeries = interfacesInSeries
        if let area_cm2 {
            areaSpecific_Ohm_cm2 = resistance_Ohm * area_cm2
            perInterface_Ohm_cm2 = resistance_Ohm * area_cm2 / Double(interfacesInSeries)
            perInterfaceStandardError_Ohm_cm2 = standardError_Ohm.map { $0 * area_cm2 / Double(interfacesInSeries) }
        }
    }
}

/// The lin-KK validity check of a spectrum (Schönleber et al. 2014): how well a chain of Voigt elements, which
/// obeys the Kramers-Kronig relations by construction, reproduces it.
public struct KramersKronigCheck: Sendable, Hashable, Codable {
    /// The number of RC (Voigt) elements used, chosen by the mu criterion.
    public var elementCount: Int
    /// 1 - (sum of negative R) / (sum of positive R) at that count; falls as the chain starts to over-fit noise.
    public var mu: Double
    /// Root mean square of the relative residuals, real and imaginary together (0.01 is 1 %).
    public var residualRMS: Double
    /// The largest relative residual.
    public var residualMaximum: Double
    /// The RMS above which the spectrum is not worth fitting, whatever the residuals look like.
    public var threshold: Double
    /// The RMS above which residuals that follow a trend (not noise) also fail the check.
    public var systematicThreshold: Double
    /// Lag-one autocorrelation of the residuals in sweep order (real and imaginary averaged): near 0 for noise,
    /// near 1 for a smooth systematic deviation such as drift.
    public var autocorrelation: Double
    /// Relative residuals (Z - Z_KK) / |Z| per point, real and imaginary, in the order measured.
    public var realResiduals: [Double]
    public var imaginaryResiduals: [Double]

    public init(
        elementCount: Int, mu: Double, residualRMS: Double, residualMaximum: Double, threshold: Double,
        systematicThreshold: Double, autocorrelation: Double, realResiduals: [Double], imaginaryResiduals: [Double]
    ) {
        self.elementCount = elementCount
        self.mu = mu
        self.residualRMS = residualRMS
        self.residualMaximum = residualMaximum
        self.threshold = threshold
        self.systematicThreshold = systematicThreshold
        self.autocorrelation = autocorrelation
        self.realResiduals = realResiduals
        self.imaginaryResiduals = imaginaryResiduals
    }

    /// Residuals this correlated from point to point are a trend, not noise.
    public static let systematicAutocorrelation = 0.5

    /// True when the residuals are small enough, or noise-like enough, for the spectrum to be a linear, causal,
    /// stable measurement.
    public var isConsistent: Bool {
        residualRMS <= threshold
            && !(residualRMS > systematicThreshold && autocorrelation > Self.systematicAutocorrelation)
    }
}

/// An equivalent-circuit fit of one impedance spectrum: parameters with error bars, goodness of fit, the
/// interfacial resistance, and the Kramers-Kronig check of the data.
public struct ImpedanceFitResult: Sendable, Hashable, Codable {
    public var circuit: EquivalentCircuit
    public var weighting: FitWeighting
    public var parameters: [FittedParameter]
    public var pointCount: Int
    /// 2 x points - parameters.
    public var degreesOfFreedom: Int
    /// The weighted sum of squared residuals.
    public var weightedSumOfSquares: Double
    /// The weighted sum of squares per degree of freedom (ZView's chi-squared): about (relative noise)^2.
    public var reducedChiSquare: Double
    public var converged: Bool
    public var iterations: Int
    public var area_cm2: Double?
    public var arcs: [FittedArc]
    public var interface: InterfacialResistance?
    public var kramersKronig: KramersKronigCheck
    /// Things the reader should know: parameters at a bound or undetermined, a failed Kramers-Kronig check.
    public var warnings: [String]

    public init(
        circuit: EquivalentCircuit, weighting: FitWeighting, parameters: [FittedParameter], pointCount: Int,
        degreesOfFreedom: Int, weightedSumOfSquares: Double, reducedChiSquare: Double, converged: Bool,
        iterations: Int, area_cm2: Double?, arcs: [FittedArc], interface: InterfacialResistance?,
        kramersKronig: KramersKronigCheck, warnings: [String]
    ) {
        self.circuit = circuit
        self.weighting = weighting
        self.parameters = parameters
        self.pointCount = pointCount
        self.degreesOfFreedom = degreesOfFreedom
        self.weightedSumOfSquares = weightedSumOfSquares
        self.reducedChiSquare = reducedChiSquare
        self.converged = converged
        self.iterations = iterations
        self.area_cm2 = area_cm2
        self.arcs = arcs
        self.interface = interface
        self.kramersKronig = kramersKronig
        self.warnings = warnings
    }

    /// The fitted parameter called `name` (`R1`, `CPE1_n`).
    public func parameter(_ name: String) -> FittedParameter? { parameters.first { $0.name == name } }

    /// The fitted values in the order of ``EquivalentCircuit/parameterNames``.
    public var values: [Double] { parameters.map(\.value) }
}

extension ImpedanceFitResult {
    /// One line for a run's events: the circuit, the interfacial resistance and whether the spectrum passed lin-KK.
    public var summary: String {
        var text = "fit \(circuit)"
        if let interface, let per = interface.perInterface_Ohm_cm2 {
            text += ": interface \(interface.element) \(formatNumber(per, significantDigits: 4)) Ohm cm2"
            if let error = interface.perInterfaceStandardError_Ohm_cm2 {
                text += " +/- \(formatNumber(error, significantDigits: 2))"
            }
            text += interface.interfacesInSeries == 2 ? " per interface" : ""
        }
        text += "; reduced chi-square \(formatNumber(reducedChiSquare, significantDigits: 3))"
        text += kramersKronig.isConsistent ? "; lin-KK consistent" : "; lin-KK flags the spectrum: do not trust the fit"
        return text
    }
}
