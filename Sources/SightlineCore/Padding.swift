/// How a convolution or pooling window treats the borders, as in Keras.
public enum Padding: Sendable, Equatable {
    /// No padding: only windows that fit entirely inside the input.
    case valid
    /// Output size `ceil(input / stride)`; the total padding is split with the extra row or
    /// column at the bottom/right (TensorFlow's convention, which Keras follows).
    case same
    /// Explicit zero padding on each border, in pixels.
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

/// The resolved geometry of a 2-D sliding window over an NHWC input.
public struct WindowGeometry: Sendable, Equatable {
    public var inputHeight: Int, inputWidth: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideY: Int, strideX: Int
    public var dilationY: Int, dilationX: Int
    public var padTop: Int, padLeft: Int
    public var outputHeight: Int, outputWidth: Int

    /// Resolves `padding` for an input of `inputHeight × inputWidth`.
    ///
    /// Output size: `valid` → `floor((in − (k − 1)·d − 1) / s) + 1`; `same` → `ceil(in / s)`;
    /// explicit → `floor((in + padBefore + padAfter − (k − 1)·d − 1) / s) + 1`.
    public init(
        inputHeight: Int, inputWidth: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1), padding: Padding
    ) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        (kernelHeight, kernelWidth) = kernel
        (strideY, strideX) = strides
        (dilationY, dilationX) = dilation
        let spanY = (kernel.0 - 1) * dilation.0 + 1
        let spanX = (kernel.1 - 1) * dilation.1 + 1
        switch padding {
        case .valid:
            padTop = 0
            padLeft = 0
            outputHeight = inputHeight >= spanY ? (inputHeight - spanY) / strides.0 + 1 : 0
            outputWidth = inputWidth >= spanX ? (inputWidth - spanX) / strides.1 + 1 : 0
        case .same:
            outputHeight = (inputHeight + strides.0 - 1) / strides.0
            outputWidth = (inputWidth + strides.1 - 1) / strides.1
            padTop = max((outputHeight - 1) * strides.0 + spanY - inputHeight, 0) / 2
            padLeft = max((outputWidth - 1) * strides.1 + spanX - inputWidth, 0) / 2
        case .explicit(let top, let bottom, let left, let right):
            padTop = top
            padLeft = left
            let h = inputHeight + top + bottom
            let w = inputWidth + left + right
            outputHeight = h >= spanY ? (h - spanY) / strides.0 + 1 : 0
            outputWidth = w >= spanX ? (w - spanX) / strides.1 + 1 : 0
        }
    }

    /// True for a 1×1 window with stride 1 and no padding: the convolution is a plain GEMM.
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideY == 1 && strideX == 1 && padTop == 0 && padLeft == 0
    }
}
