#include "textflag.h"

// Horizontal sum of the 8 lanes of Y(r) into the low lane of X(r), in a
// fixed order: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Clobbers X15.
#define HSUM(Yr, Xr) \
	VEXTRACTF128 $1, Yr, X15 \
	VADDPS X15, Xr, Xr \
	VMOVHLPS Xr, Xr, X15 \
	VADDPS X15, Xr, Xr \
	VMOVSHDUP Xr, X15 \
	VADDSS X15, Xr, Xr

// func dot4AVX(a, b *float32, k, ldb int, out *float32)
// out[j] = Σ a[x]·b[j·ldb+x] for j = 0..3: 8-lane FMA accumulation over
// x < k&^7, the fixed horizontal sum, then a scalar FMA tail.
TEXT ·dot4AVX(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ k+16(FP), CX
	MOVQ ldb+24(FP), R8
	MOVQ out+32(FP), R9
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
loop8:
	CMPQ AX, DX
	JGE  sums
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (R10)(AX*4), Y4, Y1
	VFMADD231PS (R11)(AX*4), Y4, Y2
	VFMADD231PS (R12)(AX*4), Y4, Y3
	ADDQ $8, AX
	JMP  loop8
sums:
	HSUM(Y0, X0)
	HSUM(Y1, X1)
	HSUM(Y2, X2)
	HSUM(Y3, X3)
tail:
	CMPQ AX, CX
	JGE  done
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	VFMADD231SS (R10)(AX*4), X4, X1
	VFMADD231SS (R11)(AX*4), X4, X2
	VFMADD231SS (R12)(AX*4), X4, X3
	INCQ AX
	JMP  tail
done:
	VMOVSS X0, 0(R9)
	VMOVSS X1, 4(R9)
	VMOVSS X2, 8(R9)
	VMOVSS X3, 12(R9)
	VZEROUPPER
	RET

// func dot1AVX(a, b *float32, k int) float32
// The same arithmetic as one column of dot4AVX.
TEXT ·dot1AVX(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ k+16(FP), CX
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
loop8:
	CMPQ AX, DX
	JGE  sums
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	JMP  loop8
sums:
	HSUM(Y0, X0)
tail:
	CMPQ AX, CX
	JGE  done
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ AX
	JMP  tail
done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Horizontal sum like HSUM with an explicit scratch register.
#define HSUMS(Yr, Xr, Xs) \
	VEXTRACTF128 $1, Yr, Xs \
	VADDPS Xs, Xr, Xr \
	VMOVHLPS Xr, Xr, Xs \
	VADDPS Xs, Xr, Xr \
	VMOVSHDUP Xr, Xs \
	VADDSS Xs, Xr, Xr

// func mm3x4AVX(a *float32, lda int, b *float32, k int, c *float32, ldc int, nb int, acc int)
// Three rows of A (stride lda) against nb groups of four rows of B (stride
// k): c[r·ldc + 4g+j] (+)= Σ a[r·lda+x]·b[(4g+j)·k+x]. Each of the twelve
// dot products per group is computed exactly like dot1AVX (8-lane FMA
// accumulation, the fixed horizontal sum, the scalar FMA tail), so results
// are bit-identical to dot4AVX/dot1AVX; only the register blocking differs
// (7 loads per 12 FMAs instead of 5 per 4).
TEXT ·mm3x4AVX(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R13
	SHLQ $2, R13
	LEAQ (SI)(R13*2), R14
	ADDQ SI, R13
	MOVQ b+16(FP), DI
	MOVQ k+24(FP), CX
	MOVQ c+32(FP), R9
	MOVQ ldc+40(FP), BX
	SHLQ $2, BX
	MOVQ CX, R8
	SHLQ $2, R8
	MOVQ CX, DX
	ANDQ $-8, DX
group:
	CMPQ nb+48(FP), $0
	JLE  end
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ AX, AX
mloop8:
	CMPQ AX, DX
	JGE  msums
	VMOVUPS (SI)(AX*4), Y12
	VMOVUPS (R13)(AX*4), Y13
	VMOVUPS (R14)(AX*4), Y14
	VMOVUPS (DI)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R10)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R11)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R12)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $8, AX
	JMP  mloop8
msums:
	HSUMS(Y0, X0, X12)
	HSUMS(Y1, X1, X12)
	HSUMS(Y2, X2, X12)
	HSUMS(Y3, X3, X12)
	HSUMS(Y4, X4, X12)
	HSUMS(Y5, X5, X12)
	HSUMS(Y6, X6, X12)
	HSUMS(Y7, X7, X12)
	HSUMS(Y8, X8, X12)
	HSUMS(Y9, X9, X12)
	HSUMS(Y10, X10, X12)
	HSUMS(Y11, X11, X12)
mtail:
	CMPQ AX, CX
	JGE  mstore
	VMOVSS (SI)(AX*4), X12
	VMOVSS (R13)(AX*4), X13
	VMOVSS (R14)(AX*4), X14
	VMOVSS (DI)(AX*4), X15
	VFMADD231SS X15, X12, X0
	VFMADD231SS X15, X13, X4
	VFMADD231SS X15, X14, X8
	VMOVSS (R10)(AX*4), X15
	VFMADD231SS X15, X12, X1
	VFMADD231SS X15, X13, X5
	VFMADD231SS X15, X14, X9
	VMOVSS (R11)(AX*4), X15
	VFMADD231SS X15, X12, X2
	VFMADD231SS X15, X13, X6
	VFMADD231SS X15, X14, X10
	VMOVSS (R12)(AX*4), X15
	VFMADD231SS X15, X12, X3
	VFMADD231SS X15, X13, X7
	VFMADD231SS X15, X14, X11
	INCQ AX
	JMP  mtail
mstore:
	CMPQ acc+56(FP), $0
	JEQ  mput
	VADDSS 0(R9), X0, X0
	VADDSS 4(R9), X1, X1
	VADDSS 8(R9), X2, X2
	VADDSS 12(R9), X3, X3
	VADDSS 0(R9)(BX*1), X4, X4
	VADDSS 4(R9)(BX*1), X5, X5
	VADDSS 8(R9)(BX*1), X6, X6
	VADDSS 12(R9)(BX*1), X7, X7
	VADDSS 0(R9)(BX*2), X8, X8
	VADDSS 4(R9)(BX*2), X9, X9
	VADDSS 8(R9)(BX*2), X10, X10
	VADDSS 12(R9)(BX*2), X11, X11
mput:
	VMOVSS X0, 0(R9)
	VMOVSS X1, 4(R9)
	VMOVSS X2, 8(R9)
	VMOVSS X3, 12(R9)
	VMOVSS X4, 0(R9)(BX*1)
	VMOVSS X5, 4(R9)(BX*1)
	VMOVSS X6, 8(R9)(BX*1)
	VMOVSS X7, 12(R9)(BX*1)
	VMOVSS X8, 0(R9)(BX*2)
	VMOVSS X9, 4(R9)(BX*2)
	VMOVSS X10, 8(R9)(BX*2)
	VMOVSS X11, 12(R9)(BX*2)
	ADDQ $16, R9
	LEAQ (DI)(R8*4), DI
	DECQ nb+48(FP)
	JMP  group
end:
	VZEROUPPER
	RET

// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv() (eax uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, ret+0(FP)
	RET
