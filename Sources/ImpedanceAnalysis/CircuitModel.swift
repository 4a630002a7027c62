public import Domain
import Foundation

/// A complex impedance in ohms: real part Z', imaginary part Z'' (negative for a capacitive response).
public struct ComplexImpedance: Sendable, Hashable {
    public var real: Double
    public var imaginary: Double

    public init(real: Double, imaginary: Double = 0) {
        self.real = real
        self.imaginary = imaginary
    }

    public var magnitude: Double { hypot(real, imaginary) }

    /// The phase angle in degrees (negative for a capacitive response).
    public var phase_deg: Double { atan2(imaginary, real) * 180 / .pi }

    var reciprocal: ComplexImpedance {
        let denominator = real * real + imaginary * imaginary
        return ComplexImpedance(real: real / denominator, imaginary: -imaginary / denominator)
    }

    static func + (lhs: ComplexImpedance, rhs: ComplexImpedance) -> ComplexImpedance {
        ComplexImpedance(real: lhs.real + rhs.real, imaginary: lhs.imaginary + rhs.imaginary)
    }

    /// (i omega)^exponent for omega > 0: omega^exponent at the angle exponent * pi / 2.
    static func imaginaryPower(angularFrequency omega: Double, exponent: Double) -> ComplexImpedance {
        let magnitude = pow(omega, exponent)
        let angle = exponent * .pi / 2
        return ComplexImpedance(real: magnitude * cos(angle), imaginary: magnitude * sin(angle))
    }
}

/// An equivalent circuit ready to evaluate: each element knows where its parameters sit in a parameter vector
/// ordered as ``EquivalentCircuit/parameterNames``.
public struct CircuitModel: Sendable {
    public let circuit: EquivalentCircuit
    /// Offset of each element's first parameter in the vector, by element name.
    let offsets: [String: Int]
    public let parameterCount: Int

    public init(_ circuit: EquivalentCircuit) {
        self.circuit = circuit
        var offsets: [String: Int] = [:]
        var next = 0
        for element in circuit.elements {
            offsets[element.name] = next
            next += element.kind.parameters.count
        }
        self.offsets = offsets
        parameterCount = next
    }

    /// The circuit's impedance at `frequency_Hz` for the given parameter values.
    public func impedance(atFrequency frequency_Hz: Double, parameters: [Double]) -> ComplexImpedance {
        evaluate(circuit.root, omega: 2 * .pi * frequency_Hz, parameters: parameters)
    }

    /// The impedance at each frequency.
    public func impedance(atFrequencies frequencies_Hz: [Double], parameters: [Double]) -> [ComplexImpedance] {
        frequencies_Hz.map { impedance(atFrequency: $0, parameters: parameters) }
    }

    private func evaluate(_ node: EquivalentCircuit.Node, omega: Double, parameters: [Double]) -> ComplexImpedance {
        switch node {
        case .element(let element):
            return Self.elementImpedance(element.kind, at: offsets[element.name]!, omega: omega, parameters: parameters)
        case .series(let children):
            return children.reduce(ComplexImpedance(real: 0)) {
                $0 + evaluate($1, omega: omega, parameters: parameters)
            }
        case .parallel(let children):
            let admittance = children.reduce(ComplexImpedance(real: 0)) {
                $0 + evaluate($1, omega: omega, parameters: parameters).reciprocal
            }
            return admittance.reciprocal
        }
    }

    static func elementImpedance(
        _ kind: CircuitElementKind, at offset: Int, omega: Double, parameters: [Double]
    ) -> ComplexImpedance {
        switch kind {
        case .resistor:
            return ComplexImpedance(real: parameters[offset])
        case .capacitor:
            return ComplexImpedance(real: 0, imaginary: -1 / (omega * parameters[offset]))
        case .inductor:
            return ComplexImpedance(real: 0, imaginary: omega * parameters[offset])
        case .constantPhase:
            let admittance = imaginaryPower(omega: omega, exponent: parameters[offset + 1], scale: parameters[offset])
            return admittance.reciprocal
        case .warburg:
            let sigma = parameters[offset] / omega.squareRoot()
            return ComplexImpedance(real: sigma, imaginary: -sigma)
        }
    }

    private static func imaginaryPower(omega: Double, exponent: Double, scale: Double) -> ComplexImpedance {
        let power = ComplexImpedance.imaginaryPower(angularFrequency: omega, exponent: exponent)
        return ComplexImpedance(real: scale * power.real, imaginary: scale * power.imaginary)
    }
}
