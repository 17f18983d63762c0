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
