public import Domain
import Foundation

/// What a fit needs besides the spectrum and the circuit.
public struct ImpedanceFitOptions: Sendable, Hashable {
    public var weighting: FitWeighting
    /// Electrode area, cm2; when given, resistances are also reported in Ohm cm2.
    public var area_cm2: Double?
    /// Metal|electrolyte interfaces in series in the measured impedance: 2 for a symmetric two-electrode cell,
    /// 1 for a working electrode measured against a reference.
    public var interfacesInSeries: Int
    /// The resistor that is the interface; nil takes the arc with the lowest apex frequency.
    public var interfaceElement: String?
    /// RMS of the lin-KK residuals above which the spectrum is flagged.
    public var kramersKronigThreshold: Double

    public init(
        weighting: FitWeighting = .modulus, area_cm2: Double? = nil, interfacesInSeries: Int = 2,
        interfaceElement: String? = nil, kramersKronigThreshold: Double = KramersKronig.defaultThreshold
    ) {
        self.weighting = weighting
        self.area_cm2 = area_cm2
        self.interfacesInSeries = interfacesInSeries
        self.interfaceElement = interfaceElement
        self.kramersKronigThreshold = kramersKronigThreshold
    }
}

/// Why a spectrum cannot be fitted: says what is wrong with the data or the request.
public struct ImpedanceFitError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Fits equivalent circuits to impedance spectra by complex non-linear least squares (Levenberg-Marquardt).
///
/// Parameters are fitted in a transformed space that keeps them inside their bounds: the logarithm of every
/// resistance, capacitance, inductance, CPE coefficient and Warburg coefficient (all positive), and a logistic map
/// of each CPE exponent onto [0.2, 1]. Standard errors come from the covariance s^2 (J^T J)^-1 in physical units,
/// with s^2 the weighted sum of squares per degree of freedom.
public enum ImpedanceFitter {
    static let exponentRange: ClosedRange<Double> = 0.2...1

    /// Fits `circuit` to `points` (at least as many values as parameters, 2 per point).
    public static func fit(
        _ points: [ImpedancePoint], circuit: EquivalentCircuit, options: ImpedanceFitOptions = .init()
    ) throws(ImpedanceFitError) -> ImpedanceFitResult {
        let model = CircuitModel(circuit)
        try validate(points, model: model, options: options)
        let transform = ParameterTransform(circuit: circuit, exponentRange: exponentRange)
        let weights = residualWeights(points, weighting: options.weighting)
        let residuals: ([Double]) -> [Double] = { free in
            residualsOf(model, physical: transform.physical(free), points: points, weights: weights)
        }
        let guesses = InitialGuess(model: model, points: points).candidates()
        let quick = LevenbergMarquardt(maximumIterations: 40)
        let outcomes = guesses.map { quick.minimize(from: transform.unbounded($0), residuals: residuals) }
        let best = outcomes.sorted { $0.cost < $1.cost }.prefix(3)
        let full = LevenbergMarquardt(maximumIterations: 400)
        let final = best.map { full.minimize(from: $0.parameters, residuals: residuals) }.min { $0.cost < $1.cost }!
        return result(
            final, points: points, model: model, transform: transform, weights: weights, options: options)
    }

    /// The fit the daemon runs after an impedance step measured its spectrum: the step's circuit, the run's
    /// electrode area, two interfaces for a two-electrode cell and one for a three-electrode one. Nil when the
    /// step names no circuit.
    public static func fitMeasuredSpectrum(
        _ points: [ImpedancePoint], step: PlannedStep, area_cm2: Double, threeElectrode: Bool
    ) throws(ImpedanceFitError) -> ImpedanceFitResult? {
        guard let fitting = step.impedanceFit else { return nil }
        return try fit(
            points, circuit: fitting.circuit,
            options: ImpedanceFitOptions(
                weighting: fitting.weighting, area_cm2: area_cm2, interfacesInSeries: threeElectrode ? 1 : 2,
                interfaceElement: fitting.interfaceElement))
    }

    private static func validate(_ points: [ImpedancePoint], model: CircuitModel, options: ImpedanceFitOptions)
        throws(ImpedanceFitError)
    {
        guard 2 * points.count > model.parameterCount + 1, points.count >= 5 else {
            throw ImpedanceFitError(
                "\(points.count) points cannot determine the \(model.parameterCount) parameters of "
                    + "\(model.circuit); need at least \(max(5, model.parameterCount / 2 + 1))")
        }
        for (index, point) in points.enumerated() {
            guard point.frequency_Hz > 0, point.frequency_Hz.isFinite, point.real_Ohm.isFinite,
                point.imaginary_Ohm.isFinite
            else {
                throw ImpedanceFitError(
                    "point \(index): frequency \(point.frequency_Hz) Hz, Z' \(point.real_Ohm), Z'' \(point.imaginary_Ohm): "
                        + "needs a positive frequency and finite Z' and Z''")
            }
        }
        if Set(points.map(\.frequency_Hz)).count < points.count / 2 {
            throw ImpedanceFitError("the spectrum repeats its frequencies; a fit needs a sweep")
        }
        if let name = options.interfaceElement,
            !model.circuit.elements.contains(where: { $0.name == name && $0.kind == .resistor })
        {
            throw ImpedanceFitError(
                "the interface element '\(name)' is not a resistor of \(model.circuit); resistors: "
                    + model.circuit.elements.filter { $0.kind == .resistor }.map(\.name).joined(separator: ", "))
        }
        if let area = options.area_cm2, !(area > 0 && area.isFinite) {
            throw ImpedanceFitError("the electrode area must be a positive number of cm2, got \(area)")
        }
    }

    /// Per point: the divisor of the real residual and of the imaginary residual.
    static func residualWeights(_ points: [ImpedancePoint], weighting: FitWeighting) -> [(Double, Double)] {
        points.map { point in
            let modulus = max(hypot(point.real_Ohm, point.imaginary_Ohm), 1e-300)
            switch weighting {
            case .modulus: return (modulus, modulus)
            case .proportional:
                return (max(abs(point.real_Ohm), 0.01 * modulus), max(abs(point.imaginary_Ohm), 0.01 * modulus))
            }
        }
    }

    static func residualsOf(
        _ model: CircuitModel, physical: [Double], points: [ImpedancePoint], weights: [(Double, Double)]
    ) -> [Double] {
        var residuals: [Double] = []
        residuals.reserveCapacity(2 * points.count)
        for (index, point) in points.enumerated() {
            let value = model.impedance(atFrequency: point.frequency_Hz, parameters: physical)
            residuals.append((value.real - point.real_Ohm) / weights[index].0)
            residuals.append((value.imaginary - point.imaginary_Ohm) / weights[index].1)
        }
        return residuals
    }

    private static func result(
        _ outcome: LevenbergMarquardt.Outcome, points: [ImpedancePoint], model: CircuitModel,
        transform: ParameterTransform, weights: [(Double, Double)], options: ImpedanceFitOptions
    ) -> ImpedanceFitResult {
        let circuit = model.circuit
        let values = orderedHighToLow(transform.physical(outcome.parameters), model: model)
        let degreesOfFreedom = max(2 * points.count - values.count, 1)
        let reduced = outcome.cost / Double(degreesOfFreedom)
        let errors = standardErrors(
            values, model: model, points: points, weights: weights, residualVariance: reduced)
        var parameters: [FittedParameter] = []
        var warnings: [String] = []
        var index = 0
        for element in circuit.elements {
            for (suffix, unit) in element.kind.parameters {
                let name = element.name + suffix
                let value = values[index]
                let error = errors[index]
                let atBound = transform.isAtBound(transform.unbounded([values[index]])[0], index: index)
                var parameter = FittedParameter(
                    name: name, element: element.name, unit: unit, value: value, standardError: error,
                    atBound: atBound)
                if let area = options.area_cm2, let (factor, areaUnit) = areaScaling(element.kind, suffix: suffix, area)
                {
                    parameter.areaSpecificValue = value * factor
                    parameter.areaSpecificStandardError = error.map { $0 * factor }
                    parameter.areaSpecificUnit = areaUnit
                }
                if atBound { warnings.append("\(name) ended at its bound (\(formatNumber(value)) \(unit))") }
                if error == nil || (parameter.relativeError ?? 0) > 1 {
                    warnings.append("the spectrum does not determine \(name) (error bar larger than the value)")
                }
                parameters.append(parameter)
                index += 1
            }
        }
        let arcs = fittedArcs(circuit, model: model, values: values)
        let interface = interfacialResistance(arcs: arcs, parameters: parameters, options: options)
        let check = KramersKronig.check(points, threshold: options.kramersKronigThreshold)
        if !check.isConsistent {
            let rms = formatNumber(check.residualRMS * 100, significantDigits: 3)
            let why =
                check.residualRMS > check.threshold
                ? "exceed \(formatNumber(check.threshold * 100)) %"
                : "follow a trend (autocorrelation \(formatNumber(check.autocorrelation, significantDigits: 2)))"
            warnings.append(
                "lin-KK residuals of \(rms) % RMS \(why): the cell changed during the sweep or the measurement was "
                    + "not linear; the fit is not worth much")
        }
        if !outcome.converged { warnings.append("the fit stopped after \(outcome.iterations) iterations unconverged") }
        return ImpedanceFitResult(
            circuit: circuit, weighting: options.weighting, parameters: parameters, pointCount: points.count,
            degreesOfFreedom: degreesOfFreedom, weightedSumOfSquares: outcome.cost, reducedChiSquare: reduced,
            converged: outcome.converged, iterations: outcome.iterations, area_cm2: options.area_cm2, arcs: arcs,
            interface: interface, kramersKronig: check, warnings: warnings)
    }

    /// The same fit with interchangeable arcs in written order from high to low apex frequency.
    ///
    /// Arcs of the same shape in series can trade places without changing the impedance, so the optimiser may
    /// land on either labelling; the convention (electrolyte first, interfaces after) fixes it.
    static func orderedHighToLow(_ values: [Double], model: CircuitModel) -> [Double] {
        guard case .series(let terms) = model.circuit.root else { return values }
        var arcs: [(resistor: Int, capacitive: Int, kind: CircuitElementKind)] = []
        for term in terms {
            guard case .parallel(let branches) = term, branches.count == 2,
                case .element(let first) = branches[0], case .element(let second) = branches[1]
            else { continue }
            let pair = first.kind == .resistor ? (first, second) : (second, first)
            guard pair.0.kind == .resistor, pair.1.kind == .capacitor || pair.1.kind == .constantPhase else { continue }
            arcs.append((model.offsets[pair.0.name]!, model.offsets[pair.1.name]!, pair.1.kind))
        }
        var ordered = values
        for kind in [CircuitElementKind.capacitor, .constantPhase] {
            let group = arcs.filter { $0.kind == kind }
            guard group.count > 1 else { continue }
            let width = kind.parameters.count
            let blocks = group.map { arc in
                (resistance: values[arc.resistor], capacitive: Array(values[arc.capacitive..<(arc.capacitive + width)]))
            }
            let sorted = blocks.sorted {
                apexFrequency($0.resistance, $0.capacitive) > apexFrequency($1.resistance, $1.capacitive)
            }
            for (arc, block) in zip(group, sorted) {
                ordered[arc.resistor] = block.resistance
                for offset in 0..<width { ordered[arc.capacitive + offset] = block.capacitive[offset] }
            }
        }
        return ordered
    }

    private static func apexFrequency(_ resistance: Double, _ capacitive: [Double]) -> Double {
        let exponent = capacitive.count > 1 ? capacitive[1] : 1
        return 1 / (2 * Double.pi * pow(resistance * capacitive[0], 1 / exponent))
    }

    /// Standard errors in physical units from s^2 (J^T J)^-1, J by central differences in the physical values.
    private static func standardErrors(
        _ values: [Double], model: CircuitModel, points: [ImpedancePoint], weights: [(Double, Double)],
        residualVariance: Double
    ) -> [Double?] {
        let count = values.count
        let columns: [[Double]] = (0..<count).map { index in
            let step = 1e-6 * max(abs(values[index]), 1e-300)
            var up = values
            var down = values
            up[index] += step
            down[index] -= step
            let high = residualsOf(model, physical: up, points: points, weights: weights)
            let low = residualsOf(model, physical: down, points: points, weights: weights)
            return zip(high, low).map { ($0 - $1) / (2 * step) }
        }
        let residualCount = columns.first?.count ?? 0
        let (normal, _) = LevenbergMarquardt.normalEquations(
            columns, residuals: [Double](repeating: 0, count: residualCount), parameters: count)
        guard let inverse = LinearAlgebra.covarianceInverse(normal, size: count) else {
            return [Double?](repeating: nil, count: count)
        }
        return (0..<count).map { index in
            let variance = inverse[index * count + index] * residualVariance
            return variance.isFinite && variance >= 0 ? variance.squareRoot() : nil
        }
    }

    /// The factor and unit that make a parameter area-specific; nil for exponents and inductances.
    private static func areaScaling(_ kind: CircuitElementKind, suffix: String, _ area: Double) -> (Double, String)? {
        switch kind {
        case .resistor: (area, "Ohm cm2")
        case .warburg: (area, "Ohm cm2 s^-1/2")
        case .capacitor: (1 / area, "F/cm2")
        case .constantPhase: suffix == "_Q" ? (1 / area, "F s^(n-1)/cm2") : nil
        case .inductor: nil
        }
    }

    private static func fittedArcs(_ circuit: EquivalentCircuit, model: CircuitModel, values: [Double]) -> [FittedArc] {
        var arcs: [FittedArc] = []
        func visit(_ node: EquivalentCircuit.Node) {
            switch node {
            case .element: return
            case .series(let children): children.forEach(visit)
            case .parallel(let branches):
                let elements = branches.compactMap { branch -> CircuitElement? in
                    if case .element(let element) = branch { return element }
                    return nil
                }
                if branches.count == 2, elements.count == 2,
                    let resistor = elements.first(where: { $0.kind == .resistor }),
                    let capacitive = elements.first(where: { $0.kind == .capacitor || $0.kind == .constantPhase })
                {
                    let resistance = values[model.offsets[resistor.name]!]
                    let offset = model.offsets[capacitive.name]!
                    let exponent = capacitive.kind == .constantPhase ? values[offset + 1] : 1
                    let coefficient = values[offset]
                    let effective = pow(pow(resistance, 1 - exponent) * coefficient, 1 / exponent)
                    let apex = 1 / (2 * Double.pi * pow(resistance * coefficient, 1 / exponent))
                    arcs.append(
                        FittedArc(
                            resistor: resistor.name, capacitiveElement: capacitive.name, resistance_Ohm: resistance,
                            effectiveCapacitance_F: effective, characteristicFrequency_Hz: apex))
                } else {
                    branches.forEach(visit)
                }
            }
        }
        visit(circuit.root)
        return arcs
    }

    private static func interfacialResistance(
        arcs: [FittedArc], parameters: [FittedParameter], options: ImpedanceFitOptions
    ) -> InterfacialResistance? {
        let name =
            options.interfaceElement
            ?? arcs.min { $0.characteristicFrequency_Hz < $1.characteristicFrequency_Hz }?
            .resistor
        guard let name, let parameter = parameters.first(where: { $0.name == name }) else { return nil }
        return InterfacialResistance(
            element: name, resistance_Ohm: parameter.value, standardError_Ohm: parameter.standardError,
            interfacesInSeries: options.interfacesInSeries, area_cm2: options.area_cm2)
    }
}

/// Maps physical parameter values to the unbounded space the optimiser works in, and back.
struct ParameterTransform {
    /// Per parameter: nil for a positive value fitted as its logarithm, or the range of a bounded exponent.
    let bounds: [ClosedRange<Double>?]

    init(circuit: EquivalentCircuit, exponentRange: ClosedRange<Double>) {
        bounds = circuit.elements.flatMap { element in
            element.kind.parameters.map { $0.suffix == "_n" ? exponentRange : nil }
        }
    }

    func physical(_ free: [Double]) -> [Double] {
        zip(free, bounds).map { value, range in
            guard let range else { return exp(value) }
            return range.lowerBound + (range.upperBound - range.lowerBound) / (1 + exp(-value))
        }
    }

    func unbounded(_ physical: [Double]) -> [Double] {
        zip(physical, bounds).map { value, range in
            guard let range else { return log(max(value, 1e-300)) }
            let fraction = (value - range.lowerBound) / (range.upperBound - range.lowerBound)
            let clamped = min(max(fraction, 1e-6), 1 - 1e-6)
            return log(clamped / (1 - clamped))
        }
    }

    /// True when an internal value sits where the physical value no longer moves (a bound).
    func isAtBound(_ free: Double, index: Int) -> Bool {
        bounds[index] == nil ? abs(free) > 60 : abs(free) > 9
    }
}
