import Domain
import Foundation

/// Starting points for a circuit fit, read from the spectrum's shape.
///
/// Every `p(R, C|CPE)` block in the top-level series chain is an arc. Arcs are written from high to low frequency
/// (the field's convention), so they take apex frequencies in that order from a grid: the peaks of -Z'' found in
/// the data, points above and below the measured band (an electrolyte arc above 1 MHz shows only as the
/// high-frequency intercept), and a few points inside it. Each arc's resistance is the rise of Z' across its
/// apex, its capacitance 1 / (R omega_apex^n); series resistors share the high-frequency intercept. The fitter
/// tries every assignment and keeps the best.
struct InitialGuess {
    let model: CircuitModel
    let points: [ImpedancePoint]

    /// Points in ascending frequency.
    private let ascending: [ImpedancePoint]
    private let highIntercept: Double
    private let lowIntercept: Double
    private let span: Double
    private let highestFrequency: Double
    private let lowestFrequency: Double

    init(model: CircuitModel, points: [ImpedancePoint]) {
        self.model = model
        self.points = points
        ascending = points.sorted { $0.frequency_Hz < $1.frequency_Hz }
        highestFrequency = ascending.last!.frequency_Hz
        lowestFrequency = ascending.first!.frequency_Hz
        highIntercept = max(ascending.last!.real_Ohm, 0)
        lowIntercept = ascending.first!.real_Ohm
        let largest = points.map { hypot($0.real_Ohm, $0.imaginary_Ohm) }.max() ?? 1
        span = max(lowIntercept - highIntercept, 1e-3 * largest)
    }

    /// Candidate parameter vectors (physical values, in the order of the circuit's parameter names).
    func candidates(limit: Int = 60) -> [[Double]] {
        let arcs = topLevelArcs()
        let grid = frequencyGrid()
        var combinations: [[Double]] = []
        Self.choose(arcs.count, from: grid, prefix: [], into: &combinations, limit: limit)
        if combinations.isEmpty { combinations = [[]] }
        return combinations.map { frequencies in vector(arcFrequencies: frequencies, arcs: arcs) }
    }

    /// The top-level series terms that are an R in parallel with a C or CPE, by the resistor's name.
    private func topLevelArcs() -> [(resistor: CircuitElement, capacitive: CircuitElement)] {
        let terms: [EquivalentCircuit.Node]
        if case .series(let children) = model.circuit.root { terms = children } else { terms = [model.circuit.root] }
        return terms.compactMap { term in
            guard case .parallel(let branches) = term, branches.count == 2 else { return nil }
            let elements = branches.compactMap { branch -> CircuitElement? in
                if case .element(let element) = branch { return element }
                return nil
            }
            guard elements.count == 2, let resistor = elements.first(where: { $0.kind == .resistor }),
                let capacitive = elements.first(where: { $0.kind == .capacitor || $0.kind == .constantPhase })
            else { return nil }
            return (resistor, capacitive)
        }
    }

    /// Apex frequencies to try, highest first: the data's peaks of -Z'', then points outside and inside the band.
    private func frequencyGrid() -> [Double] {
        var grid: [Double] = []
        let negativeImaginary = ascending.map { -$0.imaginary_Ohm }
        for index in ascending.indices {
            let left = index > 0 ? negativeImaginary[index - 1] : -Double.infinity
            let right = index < ascending.count - 1 ? negativeImaginary[index + 1] : -Double.infinity
            if negativeImaginary[index] > 0, negativeImaginary[index] >= left, negativeImaginary[index] > right {
                grid.append(ascending[index].frequency_Hz)
            }
        }
        let logLow = log10(lowestFrequency)
        let logHigh = log10(highestFrequency)
        grid += [highestFrequency * 10, lowestFrequency / 10]
        grid += [0.2, 0.5, 0.8].map { pow(10, logLow + $0 * (logHigh - logLow)) }
        var distinct: [Double] = []
        for frequency in grid where !distinct.contains(where: { abs(log10($0 / frequency)) < 0.3 }) {
            distinct.append(frequency)
        }
        return distinct.sorted(by: >)
    }

    /// Every strictly descending choice of `count` frequencies from `grid` (itself descending).
    private static func choose(
        _ count: Int, from grid: [Double], prefix: [Double], into result: inout [[Double]], limit: Int
    ) {
        guard result.count < limit else { return }
        if prefix.count == count {
            result.append(prefix)
            return
        }
        let start = prefix.last.map { last in grid.firstIndex { $0 < last } ?? grid.count } ?? 0
        guard start < grid.count else { return }
        for index in start..<grid.count {
            choose(count, from: grid, prefix: prefix + [grid[index]], into: &result, limit: limit)
        }
    }

    private func vector(
        arcFrequencies: [Double], arcs: [(resistor: CircuitElement, capacitive: CircuitElement)]
    ) -> [Double] {
        var values = [Double](repeating: 0, count: model.parameterCount)
        var assigned: Set<String> = []
        var aboveBandResistance = 0.0
        for (arc, frequency) in zip(arcs, arcFrequencies) {
            let resistance: Double
            if frequency > highestFrequency {
                let hasSeriesResistor = seriesResistors().count > 0
                let above = arcFrequencies.filter { $0 > highestFrequency }.count
                resistance = max(highIntercept * (hasSeriesResistor ? 0.5 : 1) / Double(above), 1e-3 * span)
                aboveBandResistance += resistance
            } else if frequency < lowestFrequency {
                resistance = span
            } else {
                resistance = max(realPart(at: frequency / 10) - realPart(at: frequency * 10), 0.05 * span)
            }
            let omega = 2 * Double.pi * frequency
            values[model.offsets[arc.resistor.name]!] = resistance
            let offset = model.offsets[arc.capacitive.name]!
            if arc.capacitive.kind == .capacitor {
                values[offset] = 1 / (resistance * omega)
            } else {
                let exponent = 0.85
                values[offset] = 1 / (resistance * pow(omega, exponent))
                values[offset + 1] = exponent
            }
            assigned.insert(arc.resistor.name)
            assigned.insert(arc.capacitive.name)
        }
        let series = seriesResistors()
        for resistor in series {
            values[model.offsets[resistor.name]!] =
                max(highIntercept - aboveBandResistance, 0.01 * max(highIntercept, 1e-3 * span)) / Double(series.count)
            assigned.insert(resistor.name)
        }
        for element in model.circuit.elements where !assigned.contains(element.name) {
            fallback(element, into: &values)
        }
        return values
    }

    /// Resistors standing alone in the top-level series chain.
    private func seriesResistors() -> [CircuitElement] {
        let terms: [EquivalentCircuit.Node]
        if case .series(let children) = model.circuit.root { terms = children } else { terms = [model.circuit.root] }
        return terms.compactMap { term in
            if case .element(let element) = term, element.kind == .resistor { return element }
            return nil
        }
    }

    /// A rough guess for an element outside the arcs and the series resistors.
    private func fallback(_ element: CircuitElement, into values: inout [Double]) {
        let offset = model.offsets[element.name]!
        let lowest = ascending.first!
        let omegaLow = 2 * Double.pi * lowest.frequency_Hz
        let omegaHigh = 2 * Double.pi * highestFrequency
        switch element.kind {
        case .resistor: values[offset] = max(span / 2, 1e-6)
        case .capacitor: values[offset] = 1 / (omegaLow * max(abs(lowest.imaginary_Ohm), 1e-3 * span))
        case .inductor:
            let positive = max(ascending.last!.imaginary_Ohm, 1e-4 * span)
            values[offset] = positive / omegaHigh
        case .constantPhase:
            values[offset] = 1 / (omegaLow.squareRoot() * max(abs(lowest.imaginary_Ohm), 1e-3 * span))
            values[offset + 1] = 0.7
        case .warburg:
            values[offset] = max(abs(lowest.imaginary_Ohm), 1e-3 * span) * omegaLow.squareRoot()
        }
    }

    /// Z' at `frequency`, interpolated in log frequency, held constant beyond the measured band.
    private func realPart(at frequency: Double) -> Double {
        if frequency <= lowestFrequency { return ascending.first!.real_Ohm }
        if frequency >= highestFrequency { return ascending.last!.real_Ohm }
        let upper = ascending.firstIndex { $0.frequency_Hz >= frequency }!
        let low = ascending[upper - 1]
        let high = ascending[upper]
        let fraction = log(frequency / low.frequency_Hz) / log(high.frequency_Hz / low.frequency_Hz)
        return low.real_Ohm + fraction * (high.real_Ohm - low.real_Ohm)
    }
}
