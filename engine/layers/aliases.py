"""Keras 3's other names for layers: ``MaxPool2D`` is ``MaxPooling2D``, and so on.

Each alias is the same class, and configs naming it load (it is registered).
"""

from .base import register_layer
from .conv import Conv1D, Conv2D
from .conv3d import Conv3D, Conv3DTranspose
from .conv_transpose import Conv1DTranspose, Conv2DTranspose
from .depthwise import SeparableConv1D, SeparableConv2D
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)

Convolution1D = register_layer(Conv1D, "Convolution1D")
Convolution2D = register_layer(Conv2D, "Convolution2D")
Convolution3D = register_layer(Conv3D, "Convolution3D")
Convolution1DTranspose = register_layer(Conv1DTranspose, "Convolution1DTranspose")
Convolution2DTranspose = register_layer(Conv2DTranspose, "Convolution2DTranspose")
Convolution3DTranspose = register_layer(Conv3DTranspose, "Convolution3DTranspose")
SeparableConvolution1D = register_layer(SeparableConv1D, "SeparableConvolution1D")
SeparableConvolution2D = register_layer(SeparableConv2D, "SeparableConvolution2D")
MaxPool1D = register_layer(MaxPooling1D, "MaxPool1D")
MaxPool2D = register_layer(MaxPooling2D, "MaxPool2D")
MaxPool3D = register_layer(MaxPooling3D, "MaxPool3D")
AvgPool1D = register_layer(AveragePooling1D, "AvgPool1D")
AvgPool2D = register_layer(AveragePooling2D, "AvgPool2D")
AvgPool3D = register_layer(AveragePooling3D, "AvgPool3D")
GlobalAvgPool1D = register_layer(GlobalAveragePooling1D, "GlobalAvgPool1D")
GlobalAvgPool2D = register_layer(GlobalAveragePooling2D, "GlobalAvgPool2D")
GlobalAvgPool3D = register_layer(GlobalAveragePooling3D, "GlobalAvgPool3D")
GlobalMaxPool1D = register_layer(GlobalMaxPooling1D, "GlobalMaxPool1D")
GlobalMaxPool2D = register_layer(GlobalMaxPooling2D, "GlobalMaxPool2D")
GlobalMaxPool3D = register_layer(GlobalMaxPooling3D, "GlobalMaxPool3D")
