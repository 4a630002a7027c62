public import Domain
import Foundation

/// The lin-KK test of Schönleber, Klotz and Ivers-Tiffée (Electrochim. Acta 131, 2014): a spectrum is fitted by a
/// series resistance and M RC (Voigt) elements whose time constants are fixed and log-spaced from 1/omega_max to
/// 1/omega_min. (No series inductance or capacitance: the cells measured here are neither inductive nor blocking,
/// and those two free terms let an under-resolved chain absorb misfit.) Such a chain obeys the Kramers-Kronig relations, so large
/// residuals mean the measurement was not linear, causal and stable (drift during the sweep, a changing cell).
///
/// The model is linear in its resistances, so each M is a weighted linear least-squares problem (weights 1/|Z|).
/// M grows from 1 until mu = 1 - sum|R_k<0| / sum|R_k>=0| falls below the cut-off (0.85): past that point the
/// chain starts fitting noise with negative resistances.
public enum KramersKronig {
    /// Schönleber et al.'s cut-off for mu.
    public static let defaultMuCutoff = 0.85
    /// RMS of the relative residuals above which a spectrum is flagged as not worth fitting (2 %).
    public static let defaultThreshold = 0.02
    /// RMS above which residuals that follow a trend (autocorrelated) are flagged too (0.5 %).
    public static let defaultSystematicThreshold = 0.005

    /// Checks a spectrum (at least 4 points at distinct positive frequencies).
    public static func check(
        _ points: [ImpedancePoint], muCutoff: Double = defaultMuCutoff, threshold: Double = defaultThreshold
    ) -> KramersKronigCheck {
        let omegas = points.map { 2 * Double.pi * $0.frequency_Hz }
        let weights = points.map { 1 / max(hypot($0.real_Ohm, $0.imaginary_Ohm), 1e-300) }
        let tauMinimum = 1 / (omegas.max() ?? 1)
        let tauMaximum = 1 / (omegas.min() ?? 1)
        let largestCount = max(1, min(points.count - 1, 100))
        var chosen: (count: Int, mu: Double, coefficients: [Double], taus: [Double])?
        for count in 1...largestCount {
            let taus = timeConstants(count: count, from: tauMinimum, to: tauMaximum)
            let coefficients = solve(points, omegas: omegas, weights: weights, taus: taus)
            let resistances = coefficients.dropFirst()
            let negative = resistances.filter { $0 < 0 }.reduce(0) { $0 + abs($1) }
            let positive = resistances.filter { $0 >= 0 }.reduce(0, +)
            let mu = positive > 0 ? 1 - negative / positive : 0
            chosen = (count, mu, coefficients, taus)
            if mu <= muCutoff { break }
        }
        let fit = chosen!
        var realResiduals: [Double] = []
        var imaginaryResiduals: [Double] = []
        for (index, point) in points.enumerated() {
            let model = evaluate(fit.coefficients, taus: fit.taus, omega: omegas[index])
            realResiduals.append((point.real_Ohm - model.real) * weights[index])
            imaginaryResiduals.append((point.imaginary_Ohm - model.imaginary) * weights[index])
        }
        let all = realResiduals + imaginaryResiduals
        let rms = (all.reduce(0) { $0 + $1 * $1 } / Double(max(all.count, 1))).squareRoot()
        let autocorrelation = (lagOneAutocorrelation(realResiduals) + lagOneAutocorrelation(imaginaryResiduals)) / 2
        return KramersKronigCheck(
            elementCount: fit.count, mu: fit.mu, residualRMS: rms, residualMaximum: all.map(abs).max() ?? 0,
            threshold: threshold, systematicThreshold: defaultSystematicThreshold, autocorrelation: autocorrelation,
            realResiduals: realResiduals, imaginaryResiduals: imaginaryResiduals)
    }

    /// sum(r_i r_i+1) / sum(r_i^2): 0 for white noise, towards 1 for a smooth trend.
    static func lagOneAutocorrelation(_ values: [Double]) -> Double {
        let power = values.reduce(0) { $0 + $1 * $1 }
        guard power > 0, values.count > 2 else { return 0 }
        return zip(values, values.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 } / power
    }

    static func timeConstants(count: Int, from minimum: Double, to maximum: Double) -> [Double] {
        guard count > 1 else { return [(minimum * maximum).squareRoot()] }
        let ratio = log(maximum / minimum)
        return (0..<count).map { minimum * exp(ratio * Double($0) / Double(count - 1)) }
    }

    /// Coefficients: the series resistance, then one resistance per tau.
    private static func solve(_ points: [ImpedancePoint], omegas: [Double], weights: [Double], taus: [Double])
        -> [Double]
    {
        let columns = 1 + taus.count
        let rows = 2 * points.count
        var matrix = [Double](repeating: 0, count: rows * columns)
        var rhs = [Double](repeating: 0, count: rows)
        for (index, point) in points.enumerated() {
            let omega = omegas[index]
            let weight = weights[index]
            let realRow = 2 * index
            let imaginaryRow = realRow + 1
            matrix[realRow * columns] = weight
            for (k, tau) in taus.enumerated() {
                let product = omega * tau
                let denominator = 1 + product * product
                matrix[realRow * columns + 1 + k] = weight / denominator
                matrix[imaginaryRow * columns + 1 + k] = -weight * product / denominator
            }
            rhs[realRow] = point.real_Ohm * weight
            rhs[imaginaryRow] = point.imaginary_Ohm * weight
        }
        return LinearAlgebra.leastSquares(matrix, rows: rows, columns: columns, rhs)
    }

    private static func evaluate(_ coefficients: [Double], taus: [Double], omega: Double) -> ComplexImpedance {
        var real = coefficients[0]
        var imaginary = 0.0
        for (k, tau) in taus.enumerated() {
            let product = omega * tau
            let denominator = 1 + product * product
            real += coefficients[1 + k] / denominator
            imaginary -= coefficients[1 + k] * product / denominator
        }
        return ComplexImpedance(real: real, imaginary: imaginary)
    }
}
